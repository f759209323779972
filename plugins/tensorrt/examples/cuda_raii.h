// RAII owners of the CUDA handles the example uses. Creation returns a Status; destruction
// never throws (a failing cudaFree at exit has nobody left to report to).
#ifndef FMSMI_TRT_EXAMPLE_CUDA_RAII_H
#define FMSMI_TRT_EXAMPLE_CUDA_RAII_H

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "fmsmi_status.h"

namespace fmsmi {
namespace example {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer const&) = delete;
  DeviceBuffer& operator=(DeviceBuffer const&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  trt::Status allocate(size_t bytes) {
    release();
    FMSMI_CUDA_TRY(cudaMalloc(&data_, bytes));
    bytes_ = bytes;
    return trt::Status();
  }
  void* data() const noexcept { return data_; }
  size_t bytes() const noexcept { return bytes_; }

 private:
  void release() noexcept {
    if (data_ != nullptr) cudaFree(data_);
    data_ = nullptr;
    bytes_ = 0;
  }

  void* data_ = nullptr;
  size_t bytes_ = 0;
};

class CudaStream {
 public:
  CudaStream() = default;
  CudaStream(CudaStream const&) = delete;
  CudaStream& operator=(CudaStream const&) = delete;
  ~CudaStream() {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  trt::Status create() {
    FMSMI_CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    return trt::Status();
  }
  cudaStream_t get() const noexcept { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class CudaEvent {
 public:
  CudaEvent() = default;
  CudaEvent(CudaEvent const&) = delete;
  CudaEvent& operator=(CudaEvent const&) = delete;
  ~CudaEvent() {
    if (event_ != nullptr) cudaEventDestroy(event_);
  }

  trt::Status create() {
    FMSMI_CUDA_TRY(cudaEventCreate(&event_));
    return trt::Status();
  }
  cudaEvent_t get() const noexcept { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace example
}  // namespace fmsmi

#endif  // FMSMI_TRT_EXAMPLE_CUDA_RAII_H
