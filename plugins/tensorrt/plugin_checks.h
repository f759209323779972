// The AdaptiveSepConv plugin's contract, as functions returning a Status (no TensorRT calls,
// only its types): fields, tensor types and shapes (DESIGN.md §2).
//
//   inputs  img (N,C,H,W), kernel_v (N,F,H,W), kernel_h (N,F,H,W); output (N,C,H,W)
//   all four fp32 or all four fp16, linear (NCHW) layout; F == kernel_size (odd, >= 1);
//   dilation >= 1.
#ifndef FMSMI_TRT_PLUGIN_CHECKS_H
#define FMSMI_TRT_PLUGIN_CHECKS_H

#include <cstdint>

#include "NvInferRuntime.h"
#include "fmsmi_status.h"

namespace fmsmi {
namespace trt {

constexpr int32_t kNbInputs = 3;   // img, kernel_v, kernel_h
constexpr int32_t kNbOutputs = 1;  // out

struct SepConvParams {
  int32_t kernel_size = 0;  // F, the taps of each 1-D kernel
  int32_t dilation = 1;
};

// kernel_size odd and >= 1, dilation >= 1.
Status checkParams(SepConvParams const& params);

// Reads kernel_size (required) and dilation (default 1) from the creator's fields. Accepts
// int32 (declared) and int64 (what a caller passing ONNX attributes unconverted may hand over);
// other fields are ignored. Checks the values with checkParams.
Status parseFields(nvinfer1::PluginFieldCollection const* fields, SepConvParams& params);

// Tensor counts as TensorRT passes them to a method.
Status checkCounts(int32_t nbInputs, int32_t nbOutputs);

// fp32 or fp16, and the inputs all of one type.
Status checkInputTypes(nvinfer1::DataType const* types, int32_t nbInputs);

// Shapes of the three inputs (img, kernel_v, kernel_h). With `allowUnknown`, -1 extents
// (dynamic, at build time) are accepted and not compared.
Status checkInputShapes(nvinfer1::Dims const& img, nvinfer1::Dims const& kernel_v,
                        nvinfer1::Dims const& kernel_h, SepConvParams const& params,
                        bool allowUnknown);

// The output's shape equals img's (unknown extents skipped when `allowUnknown`).
Status checkOutputShape(nvinfer1::Dims const& img, nvinfer1::Dims const& out, bool allowUnknown);

// The four extents of a run-time NCHW shape as int (the CUDA launcher's argument type).
struct Extents {
  int n = 0, c = 0, h = 0, w = 0;
  bool empty() const noexcept { return n == 0 || c == 0 || h == 0 || w == 0; }
};
Status runExtents(nvinfer1::Dims const& img, Extents& extents);

}  // namespace trt
}  // namespace fmsmi

#endif  // FMSMI_TRT_PLUGIN_CHECKS_H
