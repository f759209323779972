#include "adaptive_sepconv_plugin.h"

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <memory>
#include <new>

#include "plugin_log.h"
#include "plugin_names.h"
#include "sepconv_launch.h"

namespace fmsmi {
namespace trt {
namespace {

using nvinfer1::DataType;
using nvinfer1::TensorFormat;

// Runs `body` (returning a Status) at a noexcept boundary: 0 on success, else reports and -1.
template <typename Body>
int32_t guarded(char const* where, Body&& body) noexcept {
  try {
    Status const status = body();
    if (status.ok()) return 0;
    reportStatus(where, status);
  } catch (...) {
    reportCurrentException(where);
  }
  return -1;
}

template <typename T>
Status launch(Extents const& extents, SepConvParams const& params, void const* const* inputs,
              void* const* outputs, cudaStream_t stream) {
  cudaError_t const error = launchAdaptiveSepConv<T>(
      static_cast<T const*>(inputs[0]), static_cast<T const*>(inputs[1]),
      static_cast<T const*>(inputs[2]), static_cast<T*>(outputs[0]), extents.n, extents.c,
      extents.h, extents.w, params.kernel_size, params.dilation, stream);
  FMSMI_REQUIRE(error == cudaSuccess, StatusCode::kCuda,
                std::string("launchAdaptiveSepConv(n=") + std::to_string(extents.n) +
                    ", c=" + std::to_string(extents.c) + ", h=" + std::to_string(extents.h) +
                    ", w=" + std::to_string(extents.w) + ", taps=" +
                    std::to_string(params.kernel_size) + ", dilation=" +
                    std::to_string(params.dilation) + "): " + cudaGetErrorName(error) + ": " +
                    cudaGetErrorString(error));
  return Status();
}

}  // namespace

// ------------------------------------------------------------------------------ plugin

AdaptiveSepConvPlugin::AdaptiveSepConvPlugin(SepConvParams params)
    : mParams(params),
      mMetadata(std::string(kFieldKernelSize) + "=" + std::to_string(params.kernel_size) + " " +
                kFieldDilation + "=" + std::to_string(params.dilation)) {}

// The serialization collection points into this object: a copy starts without one.
AdaptiveSepConvPlugin::AdaptiveSepConvPlugin(AdaptiveSepConvPlugin const& other)
    : nvinfer1::IPluginV3(other),
      nvinfer1::IPluginV3OneCore(other),
      nvinfer1::IPluginV3OneBuild(other),
      nvinfer1::IPluginV3OneRuntime(other),
      mParams(other.mParams),
      mMetadata(other.mMetadata) {}

nvinfer1::IPluginCapability* AdaptiveSepConvPlugin::getCapabilityInterface(
    nvinfer1::PluginCapabilityType type) noexcept {
  switch (type) {
    case nvinfer1::PluginCapabilityType::kCORE: return static_cast<nvinfer1::IPluginV3OneCore*>(this);
    case nvinfer1::PluginCapabilityType::kBUILD: return static_cast<nvinfer1::IPluginV3OneBuild*>(this);
    case nvinfer1::PluginCapabilityType::kRUNTIME: return static_cast<nvinfer1::IPluginV3OneRuntime*>(this);
  }
  try {
    reportStatus("getCapabilityInterface",
                 Status::error(StatusCode::kUnsupported, "capability type " +
                                                             std::to_string(static_cast<int>(type)) +
                                                             ": expected kCORE, kBUILD or kRUNTIME"));
  } catch (...) {
    reportCurrentException("getCapabilityInterface");
  }
  return nullptr;
}

nvinfer1::IPluginV3* AdaptiveSepConvPlugin::clone() noexcept {
  try {
    return std::make_unique<AdaptiveSepConvPlugin>(*this).release();
  } catch (...) {
    reportCurrentException("clone");
  }
  return nullptr;
}

char const* AdaptiveSepConvPlugin::getPluginName() const noexcept { return kPluginName; }
char const* AdaptiveSepConvPlugin::getPluginVersion() const noexcept { return kPluginVersion; }
char const* AdaptiveSepConvPlugin::getPluginNamespace() const noexcept { return kPluginNamespace; }

int32_t AdaptiveSepConvPlugin::getNbOutputs() const noexcept { return kNbOutputs; }

int32_t AdaptiveSepConvPlugin::getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs,
                                                  DataType const* inputTypes,
                                                  int32_t nbInputs) const noexcept {
  return guarded("getOutputDataTypes", [&]() -> Status {
    FMSMI_TRY(checkCounts(nbInputs, nbOutputs));
    FMSMI_REQUIRE(outputTypes != nullptr, StatusCode::kInternal, "outputTypes: null");
    FMSMI_TRY(checkInputTypes(inputTypes, nbInputs));
    outputTypes[0] = inputTypes[0];
    return Status();
  });
}

int32_t AdaptiveSepConvPlugin::getOutputShapes(nvinfer1::DimsExprs const* inputs, int32_t nbInputs,
                                               nvinfer1::DimsExprs const* /*shapeInputs*/,
                                               int32_t /*nbShapeInputs*/,
                                               nvinfer1::DimsExprs* outputs, int32_t nbOutputs,
                                               nvinfer1::IExprBuilder& /*exprBuilder*/) noexcept {
  return guarded("getOutputShapes", [&]() -> Status {
    FMSMI_TRY(checkCounts(nbInputs, nbOutputs));
    FMSMI_REQUIRE(inputs != nullptr && outputs != nullptr, StatusCode::kInternal,
                  "inputs/outputs: null");
    static char const* const names[kNbInputs] = {"img", "kernel_v", "kernel_h"};
    for (int32_t i = 0; i < kNbInputs; ++i) {
      FMSMI_REQUIRE(inputs[i].nbDims == 4, StatusCode::kInvalidArgument,
                    std::string(names[i]) + ": rank " + std::to_string(inputs[i].nbDims) +
                        ", expected 4 (NCHW)");
    }
    // A constant F that disagrees with kernel_size is an error the network builder can report
    // now, before any shape is known.
    for (int32_t i = 1; i < kNbInputs; ++i) {
      nvinfer1::IDimensionExpr const* taps = inputs[i].d[1];
      if (taps != nullptr && taps->isConstant()) {
        int64_t const value = taps->getConstantValue();
        FMSMI_REQUIRE(value == mParams.kernel_size, StatusCode::kInvalidArgument,
                      std::string(names[i]) + ": F (dim 1) = " + std::to_string(value) +
                          ", expected kernel_size = " + std::to_string(mParams.kernel_size));
      }
    }
    outputs[0] = inputs[0];  // (N, C, H, W) of img
    return Status();
  });
}

bool AdaptiveSepConvPlugin::supportsFormatCombination(int32_t pos,
                                                      nvinfer1::DynamicPluginTensorDesc const* inOut,
                                                      int32_t nbInputs, int32_t nbOutputs) noexcept {
  // Called many times while TensorRT explores formats: answer, do not log.
  if (inOut == nullptr || nbInputs != kNbInputs || nbOutputs != kNbOutputs || pos < 0 ||
      pos >= kNbInputs + kNbOutputs) {
    return false;
  }
  nvinfer1::PluginTensorDesc const& desc = inOut[pos].desc;
  if (desc.format != TensorFormat::kLINEAR) return false;
  if (pos == 0) return desc.type == DataType::kFLOAT || desc.type == DataType::kHALF;
  return desc.type == inOut[0].desc.type;
}

int32_t AdaptiveSepConvPlugin::configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in,
                                               int32_t nbInputs,
                                               nvinfer1::DynamicPluginTensorDesc const* out,
                                               int32_t nbOutputs) noexcept {
  return guarded("configurePlugin", [&]() -> Status {
    FMSMI_TRY(checkCounts(nbInputs, nbOutputs));
    FMSMI_REQUIRE(in != nullptr && out != nullptr, StatusCode::kInternal, "in/out: null");
    DataType const types[kNbInputs] = {in[0].desc.type, in[1].desc.type, in[2].desc.type};
    FMSMI_TRY(checkInputTypes(types, nbInputs));
    FMSMI_REQUIRE(out[0].desc.type == types[0], StatusCode::kInvalidArgument,
                  "output type: expected img's type");
    // desc.dims has -1 where an extent is dynamic: those are checked in onShapeChange. (The
    // min/max bounds are not compared: TensorRT may bound two equal extents differently.)
    FMSMI_TRY(checkInputShapes(in[0].desc.dims, in[1].desc.dims, in[2].desc.dims, mParams, true));
    FMSMI_TRY(checkOutputShape(in[0].desc.dims, out[0].desc.dims, true));
    return Status();
  });
}

size_t AdaptiveSepConvPlugin::getWorkspaceSize(nvinfer1::DynamicPluginTensorDesc const*, int32_t,
                                               nvinfer1::DynamicPluginTensorDesc const*,
                                               int32_t) const noexcept {
  return 0;
}

char const* AdaptiveSepConvPlugin::getMetadataString() noexcept { return mMetadata.c_str(); }

int32_t AdaptiveSepConvPlugin::onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs,
                                             nvinfer1::PluginTensorDesc const* out,
                                             int32_t nbOutputs) noexcept {
  return guarded("onShapeChange", [&]() -> Status {
    FMSMI_TRY(checkCounts(nbInputs, nbOutputs));
    FMSMI_REQUIRE(in != nullptr && out != nullptr, StatusCode::kInternal, "in/out: null");
    FMSMI_TRY(checkInputShapes(in[0].dims, in[1].dims, in[2].dims, mParams, false));
    FMSMI_TRY(checkOutputShape(in[0].dims, out[0].dims, false));
    Extents extents;
    return runExtents(in[0].dims, extents);
  });
}

int32_t AdaptiveSepConvPlugin::enqueue(nvinfer1::PluginTensorDesc const* inputDesc,
                                       nvinfer1::PluginTensorDesc const* outputDesc,
                                       void const* const* inputs, void* const* outputs,
                                       void* /*workspace*/, cudaStream_t stream) noexcept {
  return guarded("enqueue", [&]() -> Status {
    FMSMI_REQUIRE(inputDesc != nullptr && outputDesc != nullptr && inputs != nullptr &&
                      outputs != nullptr,
                  StatusCode::kInternal, "tensor descriptions or pointers: null");
    Extents extents;
    FMSMI_TRY(runExtents(inputDesc[0].dims, extents));
    if (extents.empty()) return Status();  // nothing to compute
    switch (inputDesc[0].type) {
      case DataType::kFLOAT: return launch<float>(extents, mParams, inputs, outputs, stream);
      case DataType::kHALF: return launch<__half>(extents, mParams, inputs, outputs, stream);
      default: break;
    }
    return Status::error(StatusCode::kUnsupported, "img type: expected fp32 or fp16");
  });
}

nvinfer1::IPluginV3* AdaptiveSepConvPlugin::attachToContext(nvinfer1::IPluginResourceContext*) noexcept {
  return clone();  // no per-context resources
}

nvinfer1::PluginFieldCollection const* AdaptiveSepConvPlugin::getFieldsToSerialize() noexcept {
  mSerializedFields[0] = nvinfer1::PluginField(kFieldKernelSize, &mParams.kernel_size,
                                               nvinfer1::PluginFieldType::kINT32, 1);
  mSerializedFields[1] = nvinfer1::PluginField(kFieldDilation, &mParams.dilation,
                                               nvinfer1::PluginFieldType::kINT32, 1);
  mSerialized.nbFields = static_cast<int32_t>(mSerializedFields.size());
  mSerialized.fields = mSerializedFields.data();
  return &mSerialized;
}

// ----------------------------------------------------------------------------- creator

AdaptiveSepConvCreator::AdaptiveSepConvCreator() {
  mFields[0] = nvinfer1::PluginField(kFieldKernelSize, nullptr, nvinfer1::PluginFieldType::kINT32, 1);
  mFields[1] = nvinfer1::PluginField(kFieldDilation, nullptr, nvinfer1::PluginFieldType::kINT32, 1);
  mFieldNames.nbFields = static_cast<int32_t>(mFields.size());
  mFieldNames.fields = mFields.data();
}

nvinfer1::IPluginV3* AdaptiveSepConvCreator::createPlugin(char const* /*name*/,
                                                          nvinfer1::PluginFieldCollection const* fc,
                                                          nvinfer1::TensorRTPhase /*phase*/) noexcept {
  try {
    SepConvParams params;
    Status const status = parseFields(fc, params);
    if (!status.ok()) {
      reportStatus("createPlugin", status);
      return nullptr;
    }
    return std::make_unique<AdaptiveSepConvPlugin>(params).release();
  } catch (...) {
    reportCurrentException("createPlugin");
  }
  return nullptr;
}

nvinfer1::PluginFieldCollection const* AdaptiveSepConvCreator::getFieldNames() noexcept {
  return &mFieldNames;
}

char const* AdaptiveSepConvCreator::getPluginName() const noexcept { return kPluginName; }
char const* AdaptiveSepConvCreator::getPluginVersion() const noexcept { return kPluginVersion; }
char const* AdaptiveSepConvCreator::getPluginNamespace() const noexcept { return kPluginNamespace; }

}  // namespace trt
}  // namespace fmsmi
