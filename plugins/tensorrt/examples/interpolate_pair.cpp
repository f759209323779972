// fmsmi_trt_interpolate: the C++ embedding path of fmsmi (docs/cpp_embedding.md).
//
//   fmsmi_trt_interpolate --engine ENGINE --plugin libfmsmi_trt_plugin.so
//                         frame0.ppm frame1.ppm middle.ppm [--multiple 32] [--verbose]
//
// Loads the AdaptiveSepConv plugin into TensorRT's plugin registry (loadLibrary), deserializes
// an engine built by `fmsmi build` (inputs frame0/frame1 N,3,H,W in [0,1], output frame; fp32
// or fp16 I/O), pads the two frames to the network's multiple (replicate), runs enqueueV3 on a
// CUDA stream and writes the cropped middle frame.
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "NvInferRuntime.h"
#include "cuda_raii.h"
#include "fmsmi_status.h"
#include "ppm_image.h"

namespace fmsmi {
namespace example {
namespace {

using trt::Status;
using trt::StatusCode;

constexpr char const* kFrame0 = "frame0";
constexpr char const* kFrame1 = "frame1";
constexpr char const* kOutput = "frame";
constexpr char const* kUsage =
    "usage: fmsmi_trt_interpolate --engine ENGINE [--plugin LIBRARY] [--multiple N] [--verbose]\n"
    "                             FRAME0.ppm FRAME1.ppm OUT.ppm\n"
    "  --engine    serialized TensorRT engine (fmsmi build --onnx model.onnx)\n"
    "  --plugin    libfmsmi_trt_plugin.so (default: found on the library search path)\n"
    "  --multiple  pad frames to a multiple of N (the model's stride; default 32 suits lite and base)\n";

struct Options {
  std::string engine;
  std::string plugin = "libfmsmi_trt_plugin.so";
  std::string frame0, frame1, out;
  int multiple = 32;
  bool verbose = false;
  bool help = false;
};

Status parseArgs(int argc, char** argv, Options& options) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string const arg = argv[i];
    bool const hasValue = i + 1 < argc;
    if (arg == "--engine" && hasValue) {
      options.engine = argv[++i];
    } else if (arg == "--plugin" && hasValue) {
      options.plugin = argv[++i];
    } else if (arg == "--multiple" && hasValue) {
      std::string const value = argv[++i];
      char* end = nullptr;
      long const multiple = std::strtol(value.c_str(), &end, 10);
      FMSMI_REQUIRE(end != value.c_str() && *end == '\0' && multiple >= 1 && multiple <= 1024,
                    StatusCode::kInvalidArgument,
                    "--multiple=" + value + ": expected an integer in [1, 1024]");
      options.multiple = static_cast<int>(multiple);
    } else if (arg == "--verbose") {
      options.verbose = true;
    } else if (arg == "-h" || arg == "--help") {
      options.help = true;
      return Status();
    } else {
      FMSMI_REQUIRE(arg.empty() || arg[0] != '-', StatusCode::kInvalidArgument,
                    "option " + arg + ": expected one of --engine, --plugin, --multiple, --verbose"
                    " (each but --verbose followed by a value)");
      positional.push_back(arg);
    }
  }
  FMSMI_REQUIRE(!options.engine.empty(), StatusCode::kInvalidArgument, "--engine: required");
  FMSMI_REQUIRE(positional.size() == 3, StatusCode::kInvalidArgument,
                std::to_string(positional.size()) +
                    " file arguments: expected 3 (FRAME0.ppm FRAME1.ppm OUT.ppm)");
  options.frame0 = positional[0];
  options.frame1 = positional[1];
  options.out = positional[2];
  return Status();
}

class Logger final : public nvinfer1::ILogger {
 public:
  explicit Logger(bool verbose) : threshold_(verbose ? Severity::kINFO : Severity::kWARNING) {}
  void log(Severity severity, nvinfer1::AsciiChar const* message) noexcept override {
    if (severity > threshold_) return;
    static char const* const names[] = {"internal error", "error", "warning", "info", "verbose"};
    int const index = static_cast<int>(severity);
    std::fprintf(stderr, "[TensorRT %s] %s\n", index >= 0 && index < 5 ? names[index] : "?", message);
  }

 private:
  Severity threshold_;
};

Status readFile(std::string const& path, std::vector<char>& bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  FMSMI_REQUIRE(in.is_open(), StatusCode::kInvalidArgument, path + ": cannot open for reading");
  std::streamsize const size = in.tellg();
  FMSMI_REQUIRE(size > 0, StatusCode::kInvalidArgument, path + ": empty file");
  bytes.resize(static_cast<size_t>(size));
  in.seekg(0);
  in.read(bytes.data(), size);
  FMSMI_REQUIRE(in.gcount() == size, StatusCode::kInvalidArgument, path + ": short read");
  return Status();
}

int roundUp(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

// Interleaved 8-bit RGB -> planar (1,3,H',W') values in [0,1], replicate-padded to H' x W'.
template <typename T>
std::vector<T> toPlanar(RgbImage const& image, int paddedHeight, int paddedWidth) {
  std::vector<T> planar(static_cast<size_t>(3) * paddedHeight * paddedWidth);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < paddedHeight; ++y) {
      int const sy = std::min(y, image.height - 1);
      for (int x = 0; x < paddedWidth; ++x) {
        int const sx = std::min(x, image.width - 1);
        float const value = image.pixels[(static_cast<size_t>(sy) * image.width + sx) * 3 + c] / 255.0f;
        planar[(static_cast<size_t>(c) * paddedHeight + y) * paddedWidth + x] = T(value);
      }
    }
  }
  return planar;
}

// Planar (1,3,H',W') -> the top-left height x width crop as interleaved 8-bit RGB.
template <typename T>
RgbImage fromPlanar(std::vector<T> const& planar, int paddedHeight, int paddedWidth, int height,
                    int width) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        float const value = static_cast<float>(planar[(static_cast<size_t>(c) * paddedHeight + y) * paddedWidth + x]);
        float const clamped = std::isfinite(value) ? std::min(std::max(value, 0.0f), 1.0f) : 0.0f;
        image.pixels[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(std::lround(clamped * 255.0f));
      }
    }
  }
  return image;
}

std::string dimsText(nvinfer1::Dims const& dims) {
  std::string text = "(";
  for (int32_t i = 0; i < dims.nbDims; ++i) text += (i ? "," : "") + std::to_string(dims.d[i]);
  return text + ")";
}

// One engine and its execution context, for frames of one size at a time.
class Session {
 public:
  explicit Session(Logger& logger) : logger_(logger) {}

  Status open(Options const& options) {
    // Fail here, clearly, without a usable GPU. (Seen without one: tensorrt-lean 11.4's
    // createInferRuntime logged "CUDA initialization failure" and returned an invalid non-null
    // pointer, not null.)
    int devices = 0;
    FMSMI_CUDA_TRY(cudaGetDeviceCount(&devices));
    FMSMI_REQUIRE(devices > 0, StatusCode::kUnsupported, "no CUDA device: this program needs an NVIDIA GPU");
    runtime_.reset(nvinfer1::createInferRuntime(logger_));
    FMSMI_REQUIRE(runtime_ != nullptr, StatusCode::kInternal, "createInferRuntime failed");
    // The same call as Python's registry.load_library: registers the plugin's creators.
    FMSMI_REQUIRE(runtime_->getPluginRegistry().loadLibrary(options.plugin.c_str()) != nullptr,
                  StatusCode::kInvalidArgument,
                  "--plugin " + options.plugin + ": TensorRT could not load the plugin library "
                  "(see its message above; pass the full path of libfmsmi_trt_plugin.so)");
    std::vector<char> plan;
    FMSMI_TRY(readFile(options.engine, plan));
    engine_.reset(runtime_->deserializeCudaEngine(plan.data(), plan.size()));
    FMSMI_REQUIRE(engine_ != nullptr, StatusCode::kInvalidArgument,
                  "--engine " + options.engine + ": deserialization failed (built by another "
                  "TensorRT version or for another GPU? rebuild it with `fmsmi build`)");
    for (char const* name : {kFrame0, kFrame1, kOutput}) {
      bool const input = std::strcmp(name, kOutput) != 0;
      FMSMI_REQUIRE(engine_->getTensorIOMode(name) ==
                        (input ? nvinfer1::TensorIOMode::kINPUT : nvinfer1::TensorIOMode::kOUTPUT),
                    StatusCode::kInvalidArgument,
                    "--engine " + options.engine + ": expected " + (input ? "input " : "output ") +
                        name + " (an engine of an `fmsmi export` graph)");
      FMSMI_REQUIRE(engine_->getTensorFormat(name) == nvinfer1::TensorFormat::kLINEAR,
                    StatusCode::kUnsupported, std::string(name) + ": expected linear (NCHW) format");
      nvinfer1::DataType const type = engine_->getTensorDataType(name);
      FMSMI_REQUIRE(type == nvinfer1::DataType::kFLOAT || type == nvinfer1::DataType::kHALF,
                    StatusCode::kUnsupported, std::string(name) + ": expected fp32 or fp16 data");
    }
    FMSMI_REQUIRE(engine_->getTensorDataType(kFrame0) == engine_->getTensorDataType(kFrame1) &&
                      engine_->getTensorDataType(kFrame0) == engine_->getTensorDataType(kOutput),
                  StatusCode::kUnsupported, "frame0, frame1, frame: expected one data type");
    context_.reset(engine_->createExecutionContext());
    FMSMI_REQUIRE(context_ != nullptr, StatusCode::kInternal, "createExecutionContext failed");
    FMSMI_TRY(stream_.create());
    FMSMI_TRY(start_.create());
    FMSMI_TRY(stop_.create());
    return Status();
  }

  bool halfPrecision() const { return engine_->getTensorDataType(kFrame0) == nvinfer1::DataType::kHALF; }

  // Pads, runs the engine, crops. `milliseconds` is the GPU time of enqueueV3 alone.
  Status interpolate(RgbImage const& frame0, RgbImage const& frame1, int multiple, RgbImage& middle,
                     float& milliseconds) {
    return halfPrecision() ? run<__half>(frame0, frame1, multiple, middle, milliseconds)
                           : run<float>(frame0, frame1, multiple, middle, milliseconds);
  }

 private:
  Status checkProfile(nvinfer1::Dims const& shape) const {
    nvinfer1::Dims const lo = engine_->getProfileShape(kFrame0, 0, nvinfer1::OptProfileSelector::kMIN);
    nvinfer1::Dims const hi = engine_->getProfileShape(kFrame0, 0, nvinfer1::OptProfileSelector::kMAX);
    bool inside = lo.nbDims == 4 && hi.nbDims == 4;
    for (int32_t i = 0; inside && i < 4; ++i) inside = shape.d[i] >= lo.d[i] && shape.d[i] <= hi.d[i];
    FMSMI_REQUIRE(inside, StatusCode::kInvalidArgument,
                  "padded frame shape " + dimsText(shape) + ": expected within the engine's profile " +
                      dimsText(lo) + " .. " + dimsText(hi) +
                      " (rebuild with `fmsmi build --min/--max WxH`)");
    return Status();
  }

  template <typename T>
  Status run(RgbImage const& frame0, RgbImage const& frame1, int multiple, RgbImage& middle,
             float& milliseconds) {
    FMSMI_REQUIRE(frame0.width == frame1.width && frame0.height == frame1.height,
                  StatusCode::kInvalidArgument,
                  "frame1 " + std::to_string(frame1.width) + "x" + std::to_string(frame1.height) +
                      ": expected frame0's size " + std::to_string(frame0.width) + "x" +
                      std::to_string(frame0.height));
    int const height = roundUp(frame0.height, multiple);
    int const width = roundUp(frame0.width, multiple);
    nvinfer1::Dims shape;
    shape.nbDims = 4;
    shape.d[0] = 1;
    shape.d[1] = 3;
    shape.d[2] = height;
    shape.d[3] = width;
    FMSMI_TRY(checkProfile(shape));
    for (char const* name : {kFrame0, kFrame1}) {
      FMSMI_REQUIRE(context_->setInputShape(name, shape), StatusCode::kInvalidArgument,
                    std::string(name) + " shape " + dimsText(shape) + ": rejected by the engine");
    }
    nvinfer1::Dims const outShape = context_->getTensorShape(kOutput);
    FMSMI_REQUIRE(outShape.nbDims == 4 && outShape.d[0] == 1 && outShape.d[1] == 3 &&
                      outShape.d[2] == height && outShape.d[3] == width,
                  StatusCode::kInternal,
                  "output shape " + dimsText(outShape) + ": expected " + dimsText(shape));

    std::vector<T> const host0 = toPlanar<T>(frame0, height, width);
    std::vector<T> const host1 = toPlanar<T>(frame1, height, width);
    std::vector<T> hostOut(host0.size());
    size_t const bytes = host0.size() * sizeof(T);
    DeviceBuffer device0, device1, deviceOut;
    FMSMI_TRY(device0.allocate(bytes));
    FMSMI_TRY(device1.allocate(bytes));
    FMSMI_TRY(deviceOut.allocate(bytes));
    FMSMI_REQUIRE(context_->setTensorAddress(kFrame0, device0.data()) &&
                      context_->setTensorAddress(kFrame1, device1.data()) &&
                      context_->setTensorAddress(kOutput, deviceOut.data()),
                  StatusCode::kInternal, "setTensorAddress failed");

    cudaStream_t const stream = stream_.get();
    FMSMI_CUDA_TRY(cudaMemcpyAsync(device0.data(), host0.data(), bytes, cudaMemcpyHostToDevice, stream));
    FMSMI_CUDA_TRY(cudaMemcpyAsync(device1.data(), host1.data(), bytes, cudaMemcpyHostToDevice, stream));
    FMSMI_CUDA_TRY(cudaEventRecord(start_.get(), stream));
    FMSMI_REQUIRE(context_->enqueueV3(stream), StatusCode::kInternal,
                  "enqueueV3 failed (see TensorRT's message above)");
    FMSMI_CUDA_TRY(cudaEventRecord(stop_.get(), stream));
    FMSMI_CUDA_TRY(cudaMemcpyAsync(hostOut.data(), deviceOut.data(), bytes, cudaMemcpyDeviceToHost, stream));
    FMSMI_CUDA_TRY(cudaStreamSynchronize(stream));
    FMSMI_CUDA_TRY(cudaEventElapsedTime(&milliseconds, start_.get(), stop_.get()));
    middle = fromPlanar<T>(hostOut, height, width, frame0.height, frame0.width);
    return Status();
  }

  Logger& logger_;
  // Declaration order is destruction order reversed: context, engine, runtime.
  std::unique_ptr<nvinfer1::IRuntime> runtime_;
  std::unique_ptr<nvinfer1::ICudaEngine> engine_;
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
  CudaStream stream_;
  CudaEvent start_, stop_;
};

Status runMain(Options const& options) {
  RgbImage frame0, frame1, middle;
  FMSMI_TRY(readPpm(options.frame0, frame0));
  FMSMI_TRY(readPpm(options.frame1, frame1));
  Logger logger(options.verbose);
  Session session(logger);
  FMSMI_TRY(session.open(options));
  float milliseconds = 0.0f;
  FMSMI_TRY(session.interpolate(frame0, frame1, options.multiple, middle, milliseconds));
  FMSMI_TRY(writePpm(options.out, middle));
  std::printf("wrote %s (%dx%d, %s engine, %.2f ms on the GPU)\n", options.out.c_str(),
              middle.width, middle.height, session.halfPrecision() ? "fp16" : "fp32", milliseconds);
  return Status();
}

}  // namespace
}  // namespace example
}  // namespace fmsmi

int main(int argc, char** argv) {
  using fmsmi::trt::Status;
  fmsmi::example::Options options;
  try {
    Status const parsed = fmsmi::example::parseArgs(argc, argv, options);
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s\n%s", parsed.message().c_str(), fmsmi::example::kUsage);
      return 2;
    }
    if (options.help) {
      std::fputs(fmsmi::example::kUsage, stdout);
      return 0;
    }
    Status const status = fmsmi::example::runMain(options);
    if (!status.ok()) {
      std::fprintf(stderr, "fmsmi_trt_interpolate: %s (%s)\n", status.message().c_str(),
                   fmsmi::trt::statusCodeName(status.code()));
      return 1;
    }
  } catch (std::exception const& error) {
    std::fprintf(stderr, "fmsmi_trt_interpolate: unexpected exception: %s\n", error.what());
    return 1;
  }
  return 0;
}
