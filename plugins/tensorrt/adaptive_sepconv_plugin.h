// TensorRT IPluginV3 for the AdaptiveSepConv op (DESIGN.md §2): name "AdaptiveSepConv",
// version "1", namespace "", fields kernel_size (int32, odd >= 1) and dilation (int32 >= 1).
//
//   out[n,c,y,x] = sum_i sum_j V[n,i,y,x] * H[n,j,y,x] * img[n,c, clampY(y+d*(i-r)), clampX(x+d*(j-r))]
//
// Inputs img (N,C,H,W), kernel_v and kernel_h (N,F,H,W), output (N,C,H,W); fp32 or fp16 (all
// four alike), linear layout; dynamic N/C/H/W. enqueue runs fmsmi::launchAdaptiveSepConv<T>,
// the CUDA kernel shared with the rest of fmsmi (plugins/cuda). Every method is noexcept:
// errors are reported through plugin_log.h and returned as -1 / nullptr / false.
#ifndef FMSMI_TRT_ADAPTIVE_SEPCONV_PLUGIN_H
#define FMSMI_TRT_ADAPTIVE_SEPCONV_PLUGIN_H

#include <array>
#include <cstdint>
#include <string>

#include "NvInferRuntime.h"
#include "plugin_checks.h"

#if !defined(NV_TENSORRT_MAJOR)
#include "NvInferVersion.h"
#endif
#if NV_TENSORRT_MAJOR < 10
#error "the fmsmi AdaptiveSepConv plugin is an IPluginV3: it needs TensorRT 10 or newer"
#endif

namespace fmsmi {
namespace trt {

class AdaptiveSepConvPlugin final : public nvinfer1::IPluginV3,
                                    public nvinfer1::IPluginV3OneCore,
                                    public nvinfer1::IPluginV3OneBuild,
                                    public nvinfer1::IPluginV3OneRuntime {
 public:
  // `params` must satisfy checkParams (the creator checks it).
  explicit AdaptiveSepConvPlugin(SepConvParams params);
  AdaptiveSepConvPlugin(AdaptiveSepConvPlugin const& other);
  AdaptiveSepConvPlugin& operator=(AdaptiveSepConvPlugin const&) = delete;
  ~AdaptiveSepConvPlugin() override = default;

  SepConvParams const& params() const noexcept { return mParams; }

  // IPluginV3
  nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override;
  nvinfer1::IPluginV3* clone() noexcept override;

  // IPluginV3OneCore
  char const* getPluginName() const noexcept override;
  char const* getPluginVersion() const noexcept override;
  char const* getPluginNamespace() const noexcept override;

  // IPluginV3OneBuild
  int32_t getNbOutputs() const noexcept override;
  int32_t getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs,
                             nvinfer1::DataType const* inputTypes, int32_t nbInputs) const noexcept override;
  int32_t getOutputShapes(nvinfer1::DimsExprs const* inputs, int32_t nbInputs,
                          nvinfer1::DimsExprs const* shapeInputs, int32_t nbShapeInputs,
                          nvinfer1::DimsExprs* outputs, int32_t nbOutputs,
                          nvinfer1::IExprBuilder& exprBuilder) noexcept override;
  bool supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut,
                                 int32_t nbInputs, int32_t nbOutputs) noexcept override;
  int32_t configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
                          nvinfer1::DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
  size_t getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const* inputs, int32_t nbInputs,
                          nvinfer1::DynamicPluginTensorDesc const* outputs,
                          int32_t nbOutputs) const noexcept override;
  char const* getMetadataString() noexcept override;

  // IPluginV3OneRuntime
  int32_t onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs,
                        nvinfer1::PluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
  int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
                  void const* const* inputs, void* const* outputs, void* workspace,
                  cudaStream_t stream) noexcept override;
  nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext* context) noexcept override;
  nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override;

 private:
  SepConvParams mParams;
  std::string mMetadata;  // "kernel_size=F dilation=d", shown by TensorRT's engine inspector
  std::array<nvinfer1::PluginField, 2> mSerializedFields{};
  nvinfer1::PluginFieldCollection mSerialized{};
};

class AdaptiveSepConvCreator final : public nvinfer1::IPluginCreatorV3One {
 public:
  AdaptiveSepConvCreator();
  AdaptiveSepConvCreator(AdaptiveSepConvCreator const&) = delete;
  AdaptiveSepConvCreator& operator=(AdaptiveSepConvCreator const&) = delete;
  ~AdaptiveSepConvCreator() override = default;

  nvinfer1::IPluginV3* createPlugin(char const* name, nvinfer1::PluginFieldCollection const* fc,
                                    nvinfer1::TensorRTPhase phase) noexcept override;
  nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override;
  char const* getPluginName() const noexcept override;
  char const* getPluginVersion() const noexcept override;
  char const* getPluginNamespace() const noexcept override;

 private:
  std::array<nvinfer1::PluginField, 2> mFields{};
  nvinfer1::PluginFieldCollection mFieldNames{};
};

}  // namespace trt
}  // namespace fmsmi

#endif  // FMSMI_TRT_ADAPTIVE_SEPCONV_PLUGIN_H
