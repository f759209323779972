// fmsmi_trt_plugin_check PLUGIN.so: exercises the AdaptiveSepConv plugin's contract through
// its exported getCreators, as TensorRT would call it, without a GPU and without TensorRT's
// builder: fields, types, formats, shape checks, serialization, and enqueue failing with a
// non-zero return and a logged message (never an abort). Run by tests/test_trt_plugin.py.
//
// Prints one "ok"/"FAIL" line per check; exit status 0 when every check passed.
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "NvInferRuntime.h"

namespace {

using nvinfer1::DataType;
using nvinfer1::Dims;
using nvinfer1::DynamicPluginTensorDesc;
using nvinfer1::PluginField;
using nvinfer1::PluginFieldCollection;
using nvinfer1::PluginFieldType;
using nvinfer1::PluginTensorDesc;
using nvinfer1::TensorFormat;

// Captures what the plugin logs at kERROR (through setLoggerFinder).
class CapturingLogger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, nvinfer1::AsciiChar const* message) noexcept override {
    if (severity <= Severity::kERROR) last_ = message;
  }
  std::string take() { return std::exchange(last_, std::string()); }

 private:
  std::string last_;
};

class Finder final : public nvinfer1::ILoggerFinder {
 public:
  explicit Finder(nvinfer1::ILogger* logger) : logger_(logger) {}
  nvinfer1::ILogger* findLogger() override { return logger_; }
  ~Finder() = default;

 private:
  nvinfer1::ILogger* logger_;
};

CapturingLogger gLogger;
Finder gFinder(&gLogger);
int gFailures = 0;

void check(bool condition, std::string const& what, std::string const& detail = "") {
  std::printf("%s %s%s%s\n", condition ? "ok  " : "FAIL", what.c_str(), detail.empty() ? "" : ": ",
              detail.c_str());
  if (!condition) ++gFailures;
}

bool contains(std::string const& text, char const* part) { return text.find(part) != std::string::npos; }

// The logged error names the value and the failed expression.
void checkLogged(std::string const& what, char const* part) {
  std::string const message = gLogger.take();
  check(contains(message, part) && contains(message, "AdaptiveSepConv"), what + " logs it", message);
}

Dims dims4(int64_t n, int64_t c, int64_t h, int64_t w) {
  Dims dims;
  dims.nbDims = 4;
  dims.d[0] = n;
  dims.d[1] = c;
  dims.d[2] = h;
  dims.d[3] = w;
  return dims;
}

PluginTensorDesc tensor(Dims dims, DataType type = DataType::kHALF) {
  PluginTensorDesc desc{};
  desc.dims = dims;
  desc.type = type;
  desc.format = TensorFormat::kLINEAR;
  desc.scale = 1.0F;
  return desc;
}

DynamicPluginTensorDesc dynamic(Dims dims, DataType type = DataType::kHALF,
                                TensorFormat format = TensorFormat::kLINEAR) {
  DynamicPluginTensorDesc desc{};
  desc.desc = tensor(dims, type);
  desc.desc.format = format;
  desc.min = dims;
  desc.max = dims;
  return desc;
}

struct PluginDeleter {
  void operator()(nvinfer1::IPluginV3* plugin) const { delete plugin; }
};
using PluginPtr = std::unique_ptr<nvinfer1::IPluginV3, PluginDeleter>;

PluginPtr create(nvinfer1::IPluginCreatorV3One& creator, std::vector<PluginField> fields,
                 nvinfer1::TensorRTPhase phase = nvinfer1::TensorRTPhase::kBUILD) {
  PluginFieldCollection collection{};
  collection.nbFields = static_cast<int32_t>(fields.size());
  collection.fields = fields.data();
  return PluginPtr(creator.createPlugin("sepconv", &collection, phase));
}

template <typename Capability>
Capability* capability(nvinfer1::IPluginV3& plugin, nvinfer1::PluginCapabilityType type) {
  return static_cast<Capability*>(plugin.getCapabilityInterface(type));
}

void checkCreator(nvinfer1::IPluginCreatorV3One& creator) {
  check(std::strcmp(creator.getPluginName(), "AdaptiveSepConv") == 0 &&
            std::strcmp(creator.getPluginVersion(), "1") == 0 &&
            std::strcmp(creator.getPluginNamespace(), "") == 0,
        "creator is AdaptiveSepConv / 1 / \"\"");
  PluginFieldCollection const* names = creator.getFieldNames();
  check(names != nullptr && names->nbFields == 2 && std::strcmp(names->fields[0].name, "kernel_size") == 0 &&
            std::strcmp(names->fields[1].name, "dilation") == 0 &&
            names->fields[0].type == PluginFieldType::kINT32 && names->fields[1].type == PluginFieldType::kINT32,
        "creator declares kernel_size, dilation (int32)");

  int32_t const even = 4, zero = 0, five = 5;
  int64_t const wide = 7;
  float const real = 5.0F;
  check(!create(creator, {PluginField("kernel_size", &even, PluginFieldType::kINT32, 1)}),
        "kernel_size=4 is rejected");
  checkLogged("kernel_size=4", "kernel_size=4: expected an odd integer >= 1 [check `");
  check(!create(creator, {PluginField("kernel_size", &five, PluginFieldType::kINT32, 1),
                          PluginField("dilation", &zero, PluginFieldType::kINT32, 1)}),
        "dilation=0 is rejected");
  checkLogged("dilation=0", "dilation=0: expected an integer >= 1");
  check(!create(creator, {PluginField("dilation", &five, PluginFieldType::kINT32, 1)}),
        "a missing kernel_size is rejected");
  checkLogged("missing kernel_size", "expected kernel_size");
  check(!create(creator, {PluginField("kernel_size", &real, PluginFieldType::kFLOAT32, 1)}),
        "a float kernel_size is rejected");
  checkLogged("float kernel_size", "expected an int32 value");
  check(!creator.createPlugin("sepconv", nullptr, nvinfer1::TensorRTPhase::kBUILD), "null fields are rejected");
  checkLogged("null fields", "expected a PluginFieldCollection");
  check(static_cast<bool>(create(creator, {PluginField("kernel_size", &wide, PluginFieldType::kINT64, 1)})),
        "an int64 kernel_size is accepted");
}

void checkBuild(nvinfer1::IPluginV3OneBuild& build) {
  check(build.getNbOutputs() == 1, "one output");
  DataType out = DataType::kINT32;
  DataType const half3[] = {DataType::kHALF, DataType::kHALF, DataType::kHALF};
  check(build.getOutputDataTypes(&out, 1, half3, 3) == 0 && out == DataType::kHALF, "fp16 in, fp16 out");
  DataType const mixed[] = {DataType::kFLOAT, DataType::kHALF, DataType::kFLOAT};
  check(build.getOutputDataTypes(&out, 1, mixed, 3) != 0, "mixed input types are rejected");
  checkLogged("mixed types", "kernel_v type fp16: expected img's type fp32");
  DataType const ints[] = {DataType::kINT32, DataType::kINT32, DataType::kINT32};
  check(build.getOutputDataTypes(&out, 1, ints, 3) != 0, "int32 inputs are rejected");
  checkLogged("int32 inputs", "img type int32: expected fp32 or fp16");
  check(build.getOutputDataTypes(&out, 1, half3, 2) != 0, "two inputs are rejected");
  checkLogged("two inputs", "expected 3");

  Dims const image = dims4(1, 3, 64, 96), taps = dims4(1, 5, 64, 96);
  auto combination = [&](DataType t0, DataType t1, DataType t2, DataType t3, TensorFormat format) {
    DynamicPluginTensorDesc const io[] = {dynamic(image, t0, format), dynamic(taps, t1, format),
                                          dynamic(taps, t2, format), dynamic(image, t3, format)};
    bool all = true;
    for (int32_t pos = 0; pos < 4; ++pos) all = all && build.supportsFormatCombination(pos, io, 3, 1);
    return all;
  };
  check(combination(DataType::kFLOAT, DataType::kFLOAT, DataType::kFLOAT, DataType::kFLOAT, TensorFormat::kLINEAR),
        "fp32 linear is supported");
  check(combination(DataType::kHALF, DataType::kHALF, DataType::kHALF, DataType::kHALF, TensorFormat::kLINEAR),
        "fp16 linear is supported");
  check(!combination(DataType::kHALF, DataType::kFLOAT, DataType::kHALF, DataType::kHALF, TensorFormat::kLINEAR),
        "mixed types are not supported");
  check(!combination(DataType::kBF16, DataType::kBF16, DataType::kBF16, DataType::kBF16, TensorFormat::kLINEAR),
        "bf16 is not supported");
  check(!combination(DataType::kHALF, DataType::kHALF, DataType::kHALF, DataType::kHALF, TensorFormat::kCHW2),
        "CHW2 is not supported");
  check(gLogger.take().empty(), "supportsFormatCombination logs nothing");

  Dims const dynImage = dims4(-1, 3, -1, -1), dynTaps = dims4(-1, 5, -1, -1);
  DynamicPluginTensorDesc const in[] = {dynamic(dynImage), dynamic(dynTaps), dynamic(dynTaps)};
  DynamicPluginTensorDesc const out1[] = {dynamic(dynImage)};
  check(build.configurePlugin(in, 3, out1, 1) == 0, "configurePlugin accepts dynamic N/H/W");
  DynamicPluginTensorDesc const wrongTaps[] = {dynamic(dynImage), dynamic(dims4(-1, 7, -1, -1)), dynamic(dynTaps)};
  check(build.configurePlugin(wrongTaps, 3, out1, 1) != 0, "configurePlugin rejects F != kernel_size");
  checkLogged("F != kernel_size", "kernel_v shape (-1,7,-1,-1): expected F (dim 1) = kernel_size = 5");
}

void checkRuntime(nvinfer1::IPluginV3OneRuntime& runtime, bool haveGpu) {
  Dims const image = dims4(2, 3, 64, 96), taps = dims4(2, 5, 64, 96);
  PluginTensorDesc const in[] = {tensor(image), tensor(taps), tensor(taps)};
  PluginTensorDesc const out[] = {tensor(image)};
  check(runtime.onShapeChange(in, 3, out, 1) == 0, "onShapeChange accepts matching shapes");
  PluginTensorDesc const wrongH[] = {tensor(image), tensor(taps), tensor(dims4(2, 5, 32, 96))};
  check(runtime.onShapeChange(wrongH, 3, out, 1) != 0, "onShapeChange rejects another H");
  checkLogged("another H", "kernel_h shape (2,5,32,96): expected H (dim 2) = img's H = 64");
  PluginTensorDesc const wrongN[] = {tensor(image), tensor(dims4(1, 5, 64, 96)), tensor(taps)};
  check(runtime.onShapeChange(wrongN, 3, out, 1) != 0, "onShapeChange rejects another N");
  checkLogged("another N", "expected N (dim 0) = img's N = 2");
  PluginTensorDesc badOut[] = {tensor(image)};
  badOut[0].dims.nbDims = 3;
  check(runtime.onShapeChange(in, 3, badOut, 1) != 0, "onShapeChange rejects a rank-3 output");
  checkLogged("rank-3 output", "expected 4 dimensions");

  void* const nulls[3] = {nullptr, nullptr, nullptr};
  void* outputs[1] = {nullptr};
  check(runtime.enqueue(in, out, nulls, outputs, nullptr, nullptr) != 0,
        "enqueue with null buffers returns non-zero");
  checkLogged("null buffers", "launchAdaptiveSepConv(n=2, c=3, h=64, w=96, taps=5, dilation=3)");
  PluginTensorDesc const empty[] = {tensor(dims4(0, 3, 64, 96)), tensor(dims4(0, 5, 64, 96)),
                                    tensor(dims4(0, 5, 64, 96))};
  PluginTensorDesc const emptyOut[] = {tensor(dims4(0, 3, 64, 96))};
  check(runtime.enqueue(empty, emptyOut, nulls, outputs, nullptr, nullptr) == 0,
        "enqueue of an empty batch does nothing and succeeds");
  if (!haveGpu) {
    // Valid shapes and non-null (never dereferenced) pointers: the launch itself fails here.
    void* fake = reinterpret_cast<void*>(0x1000);
    void const* const inputs[3] = {fake, fake, fake};
    void* fakeOut[1] = {fake};
    check(runtime.enqueue(in, out, inputs, fakeOut, nullptr, nullptr) != 0,
          "enqueue without a GPU returns non-zero (no abort)");
    checkLogged("enqueue without a GPU", "launchAdaptiveSepConv");
  }
  PluginFieldCollection const* fields = runtime.getFieldsToSerialize();
  bool serialized = fields != nullptr && fields->nbFields == 2;
  for (int32_t i = 0; serialized && i < 2; ++i) {
    serialized = fields->fields[i].type == PluginFieldType::kINT32 && fields->fields[i].length == 1;
  }
  check(serialized && *static_cast<int32_t const*>(fields->fields[0].data) == 5 &&
            *static_cast<int32_t const*>(fields->fields[1].data) == 3,
        "getFieldsToSerialize gives kernel_size=5, dilation=3");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fmsmi_trt_plugin_check PATH/libfmsmi_trt_plugin.so\n");
    return 2;
  }
  void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    std::fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
    return 2;
  }
  using GetCreators = nvinfer1::IPluginCreatorInterface* const* (*)(int32_t&);
  using SetLoggerFinder = void (*)(nvinfer1::ILoggerFinder*);
  auto getCreators = reinterpret_cast<GetCreators>(dlsym(library, "getCreators"));
  auto setLoggerFinder = reinterpret_cast<SetLoggerFinder>(dlsym(library, "setLoggerFinder"));
  check(getCreators != nullptr && setLoggerFinder != nullptr, "exports getCreators and setLoggerFinder");
  if (getCreators == nullptr || setLoggerFinder == nullptr) return 1;
  setLoggerFinder(&gFinder);

  int32_t count = 0;
  nvinfer1::IPluginCreatorInterface* const* creators = getCreators(count);
  check(count == 1 && creators != nullptr && creators[0] != nullptr, "getCreators returns one creator");
  if (count != 1 || creators == nullptr || creators[0] == nullptr) return 1;
  nvinfer1::InterfaceInfo const info = creators[0]->getInterfaceInfo();
  check(std::strcmp(info.kind, "PLUGIN CREATOR_V3ONE") == 0, "the creator is an IPluginCreatorV3One", info.kind);
  auto& creator = *static_cast<nvinfer1::IPluginCreatorV3One*>(creators[0]);
  checkCreator(creator);

  int32_t const five = 5, three = 3;
  PluginPtr plugin = create(creator, {PluginField("kernel_size", &five, PluginFieldType::kINT32, 1),
                                      PluginField("dilation", &three, PluginFieldType::kINT32, 1)});
  check(static_cast<bool>(plugin), "createPlugin(kernel_size=5, dilation=3)", gLogger.take());
  if (!plugin) return 1;
  auto* core = capability<nvinfer1::IPluginV3OneCore>(*plugin, nvinfer1::PluginCapabilityType::kCORE);
  auto* build = capability<nvinfer1::IPluginV3OneBuild>(*plugin, nvinfer1::PluginCapabilityType::kBUILD);
  auto* runtime = capability<nvinfer1::IPluginV3OneRuntime>(*plugin, nvinfer1::PluginCapabilityType::kRUNTIME);
  check(core && build && runtime, "core, build and runtime capabilities");
  if (!core || !build || !runtime) return 1;
  check(std::strcmp(core->getPluginName(), "AdaptiveSepConv") == 0 && std::strcmp(core->getPluginVersion(), "1") == 0,
        "plugin name and version");
  check(std::strcmp(build->getMetadataString(), "kernel_size=5 dilation=3") == 0, "metadata string",
        build->getMetadataString());

  int devices = 0;
  bool const haveGpu = cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
  cudaGetLastError();
  checkBuild(*build);
  checkRuntime(*runtime, haveGpu);

  // A clone and a plugin re-created from the serialized fields behave the same.
  PluginPtr copy(plugin->clone());
  auto* copyRuntime = copy ? capability<nvinfer1::IPluginV3OneRuntime>(*copy, nvinfer1::PluginCapabilityType::kRUNTIME)
                           : nullptr;
  PluginFieldCollection const* copied = copyRuntime ? copyRuntime->getFieldsToSerialize() : nullptr;
  check(copied && copied->nbFields == 2 && *static_cast<int32_t const*>(copied->fields[1].data) == 3,
        "clone keeps the fields");
  PluginFieldCollection const* fields = runtime->getFieldsToSerialize();
  PluginPtr restored(creator.createPlugin("sepconv", fields, nvinfer1::TensorRTPhase::kRUNTIME));
  auto* restoredBuild = restored ? capability<nvinfer1::IPluginV3OneBuild>(*restored, nvinfer1::PluginCapabilityType::kBUILD)
                                 : nullptr;
  check(restoredBuild && std::strcmp(restoredBuild->getMetadataString(), "kernel_size=5 dilation=3") == 0,
        "deserialization (kRUNTIME) restores the fields");
  PluginPtr attached(runtime->attachToContext(nullptr));
  check(static_cast<bool>(attached), "attachToContext gives a new plugin");

  std::printf("%s: %d failed check(s)\n", gFailures ? "FAILED" : "PASSED", gFailures);
  // The library stays loaded: TensorRT's registry may still hold its creator.
  return gFailures ? 1 : 0;
}
