// Errors as values for the TensorRT plugin and the C++ example: a Status (ok, or a code and a
// message) and the check macros that return one carrying the failing expression and where it
// failed. No TensorRT or CUDA types here, so both sides of the plugin boundary use it.
//
//   FMSMI_REQUIRE(kernel_size % 2 == 1, StatusCode::kInvalidArgument,
//                 "kernel_size=" + std::to_string(kernel_size) + ": expected an odd integer >= 1");
//   FMSMI_TRY(checkShapes(...));                 // propagate a failed Status
//   FMSMI_CUDA_TRY(cudaMemcpyAsync(...));         // cudaError_t -> Status (needs cuda_runtime_api.h)
#ifndef FMSMI_TRT_STATUS_H
#define FMSMI_TRT_STATUS_H

#include <string>
#include <utility>

namespace fmsmi {
namespace trt {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // a caller's value is out of contract (fields, shapes, types, files)
  kUnsupported,       // valid, but not something this build does
  kCuda,              // a CUDA call failed
  kInternal,          // a bug or an exception: should not happen
};

inline char const* statusCodeName(StatusCode code) noexcept;

class Status {
 public:
  Status() noexcept = default;  // ok
  static Status error(StatusCode code, std::string message) {
    return Status(code, std::move(message));
  }

  bool ok() const noexcept { return code_ == StatusCode::kOk; }
  StatusCode code() const noexcept { return code_; }
  std::string const& message() const noexcept { return message_; }

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline char const* statusCodeName(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kInvalidArgument: return "invalid argument";
    case StatusCode::kUnsupported: return "unsupported";
    case StatusCode::kCuda: return "CUDA error";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

namespace detail {

// "<what> [check `<expression>` failed at <file>:<line>]", file without its folders.
inline std::string checkFailure(std::string const& what, char const* expression, char const* file,
                                int line) {
  std::string name(file);
  std::string::size_type slash = name.find_last_of("/\\");
  if (slash != std::string::npos) name.erase(0, slash + 1);
  return what + " [check `" + expression + "` failed at " + name + ":" + std::to_string(line) + "]";
}

}  // namespace detail
}  // namespace trt
}  // namespace fmsmi

// Return a failed Status from the enclosing function unless `condition` holds. `what` (a
// std::string expression, evaluated only on failure) names the argument, its value and what
// was expected.
#define FMSMI_REQUIRE(condition, code, what)                                                  \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      return ::fmsmi::trt::Status::error(                                                     \
          (code), ::fmsmi::trt::detail::checkFailure((what), #condition, __FILE__, __LINE__)); \
    }                                                                                         \
  } while (0)

// Evaluate an expression giving a Status; return it from the enclosing function if it failed.
#define FMSMI_TRY(expression)                              \
  do {                                                     \
    ::fmsmi::trt::Status fmsmi_status_ = (expression);     \
    if (!fmsmi_status_.ok()) return fmsmi_status_;         \
  } while (0)

// Evaluate a CUDA runtime call; on failure return a Status naming the call and the CUDA error.
// The including file includes <cuda_runtime_api.h>.
#define FMSMI_CUDA_TRY(expression)                                                         \
  do {                                                                                     \
    cudaError_t fmsmi_cuda_error_ = (expression);                                          \
    if (fmsmi_cuda_error_ != cudaSuccess) {                                                \
      return ::fmsmi::trt::Status::error(                                                  \
          ::fmsmi::trt::StatusCode::kCuda,                                                 \
          ::fmsmi::trt::detail::checkFailure(                                              \
              std::string(cudaGetErrorName(fmsmi_cuda_error_)) + ": " +                    \
                  cudaGetErrorString(fmsmi_cuda_error_),                                   \
              #expression, __FILE__, __LINE__));                                           \
    }                                                                                      \
  } while (0)

#endif  // FMSMI_TRT_STATUS_H
