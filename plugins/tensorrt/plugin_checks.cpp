#include "plugin_checks.h"

#include <cstring>
#include <limits>
#include <string>

#include "plugin_names.h"

namespace fmsmi {
namespace trt {
namespace {

constexpr char const* kInputNames[kNbInputs] = {"img", "kernel_v", "kernel_h"};

std::string dimsText(nvinfer1::Dims const& dims) {
  if (dims.nbDims < 0) return "(unknown rank)";
  std::string text = "(";
  for (int32_t i = 0; i < dims.nbDims && i < nvinfer1::Dims::MAX_DIMS; ++i) {
    if (i) text += ",";
    text += std::to_string(dims.d[i]);
  }
  return text + ")";
}

char const* typeName(nvinfer1::DataType type) {
  switch (type) {
    case nvinfer1::DataType::kFLOAT: return "fp32";
    case nvinfer1::DataType::kHALF: return "fp16";
    case nvinfer1::DataType::kINT8: return "int8";
    case nvinfer1::DataType::kINT32: return "int32";
    case nvinfer1::DataType::kBOOL: return "bool";
    case nvinfer1::DataType::kUINT8: return "uint8";
    case nvinfer1::DataType::kFP8: return "fp8";
    case nvinfer1::DataType::kBF16: return "bf16";
    case nvinfer1::DataType::kINT64: return "int64";
    default: break;
  }
  return "another type";
}

bool known(int64_t extent) { return extent >= 0; }

// Extent `axis` of `dims` equals `expected`, unless one of them is unknown and that is allowed.
Status checkExtent(char const* tensor, nvinfer1::Dims const& dims, int32_t axis, char const* axisName,
                   int64_t expected, char const* expectedText, bool allowUnknown) {
  int64_t const extent = dims.d[axis];
  if (allowUnknown && (!known(extent) || !known(expected))) return Status();
  FMSMI_REQUIRE(extent == expected, StatusCode::kInvalidArgument,
                std::string(tensor) + " shape " + dimsText(dims) + ": expected " + axisName + " = " +
                    expectedText + " = " + std::to_string(expected));
  return Status();
}

Status readInt(nvinfer1::PluginField const& field, int32_t& value) {
  FMSMI_REQUIRE(field.data != nullptr && field.length == 1, StatusCode::kInvalidArgument,
                std::string("field ") + field.name + ": expected one value, got length " +
                    std::to_string(field.length) + (field.data ? "" : " and no data"));
  if (field.type == nvinfer1::PluginFieldType::kINT32) {
    std::memcpy(&value, field.data, sizeof value);
    return Status();
  }
  FMSMI_REQUIRE(field.type == nvinfer1::PluginFieldType::kINT64, StatusCode::kInvalidArgument,
                std::string("field ") + field.name + ": expected an int32 value, got field type " +
                    std::to_string(static_cast<int>(field.type)));
  int64_t wide = 0;
  std::memcpy(&wide, field.data, sizeof wide);
  FMSMI_REQUIRE(wide >= std::numeric_limits<int32_t>::min() &&
                    wide <= std::numeric_limits<int32_t>::max(),
                StatusCode::kInvalidArgument,
                std::string("field ") + field.name + "=" + std::to_string(wide) +
                    ": expected a value that fits in int32");
  value = static_cast<int32_t>(wide);
  return Status();
}

}  // namespace

Status checkParams(SepConvParams const& params) {
  FMSMI_REQUIRE(params.kernel_size >= 1 && params.kernel_size % 2 == 1, StatusCode::kInvalidArgument,
                std::string(kFieldKernelSize) + "=" + std::to_string(params.kernel_size) +
                    ": expected an odd integer >= 1");
  FMSMI_REQUIRE(params.dilation >= 1, StatusCode::kInvalidArgument,
                std::string(kFieldDilation) + "=" + std::to_string(params.dilation) +
                    ": expected an integer >= 1");
  return Status();
}

Status parseFields(nvinfer1::PluginFieldCollection const* fields, SepConvParams& params) {
  FMSMI_REQUIRE(fields != nullptr, StatusCode::kInvalidArgument,
                std::string("fields: expected a PluginFieldCollection with ") + kFieldKernelSize +
                    ", got none");
  FMSMI_REQUIRE(fields->nbFields == 0 || fields->fields != nullptr, StatusCode::kInvalidArgument,
                "fields: nbFields=" + std::to_string(fields->nbFields) + " but no field array");
  SepConvParams parsed;
  bool haveKernelSize = false;
  for (int32_t i = 0; i < fields->nbFields; ++i) {
    nvinfer1::PluginField const& field = fields->fields[i];
    if (field.name == nullptr) continue;
    if (std::strcmp(field.name, kFieldKernelSize) == 0) {
      FMSMI_TRY(readInt(field, parsed.kernel_size));
      haveKernelSize = true;
    } else if (std::strcmp(field.name, kFieldDilation) == 0) {
      FMSMI_TRY(readInt(field, parsed.dilation));
    }
  }
  FMSMI_REQUIRE(haveKernelSize, StatusCode::kInvalidArgument,
                std::string("fields: expected ") + kFieldKernelSize +
                    " (int32, odd, >= 1), which the ONNX node's attribute of that name provides");
  FMSMI_TRY(checkParams(parsed));
  params = parsed;
  return Status();
}

Status checkCounts(int32_t nbInputs, int32_t nbOutputs) {
  FMSMI_REQUIRE(nbInputs == kNbInputs && nbOutputs == kNbOutputs, StatusCode::kInvalidArgument,
                std::to_string(nbInputs) + " inputs, " + std::to_string(nbOutputs) +
                    " outputs: expected 3 inputs (img, kernel_v, kernel_h) and 1 output");
  return Status();
}

Status checkInputTypes(nvinfer1::DataType const* types, int32_t nbInputs) {
  FMSMI_REQUIRE(types != nullptr && nbInputs == kNbInputs, StatusCode::kInvalidArgument,
                "input types: expected 3, got " + std::to_string(nbInputs));
  FMSMI_REQUIRE(types[0] == nvinfer1::DataType::kFLOAT || types[0] == nvinfer1::DataType::kHALF,
                StatusCode::kUnsupported,
                std::string("img type ") + typeName(types[0]) + ": expected fp32 or fp16");
  for (int32_t i = 1; i < kNbInputs; ++i) {
    FMSMI_REQUIRE(types[i] == types[0], StatusCode::kInvalidArgument,
                  std::string(kInputNames[i]) + " type " + typeName(types[i]) +
                      ": expected img's type " + typeName(types[0]) +
                      " (in a strongly typed network, Cast it explicitly)");
  }
  return Status();
}

Status checkInputShapes(nvinfer1::Dims const& img, nvinfer1::Dims const& kernel_v,
                        nvinfer1::Dims const& kernel_h, SepConvParams const& params,
                        bool allowUnknown) {
  nvinfer1::Dims const* shapes[kNbInputs] = {&img, &kernel_v, &kernel_h};
  for (int32_t i = 0; i < kNbInputs; ++i) {
    FMSMI_REQUIRE(shapes[i]->nbDims == 4, StatusCode::kInvalidArgument,
                  std::string(kInputNames[i]) + " shape " + dimsText(*shapes[i]) +
                      ": expected 4 dimensions (N,C,H,W for img, N,F,H,W for the kernels)");
    for (int32_t axis = 0; axis < 4; ++axis) {
      int64_t const extent = shapes[i]->d[axis];
      FMSMI_REQUIRE(extent >= 0 || (allowUnknown && extent == -1), StatusCode::kInvalidArgument,
                    std::string(kInputNames[i]) + " shape " + dimsText(*shapes[i]) +
                        ": expected non-negative extents");
    }
  }
  std::string const taps = std::string(kFieldKernelSize);
  for (int32_t i = 1; i < kNbInputs; ++i) {
    char const* name = kInputNames[i];
    FMSMI_TRY(checkExtent(name, *shapes[i], 1, "F (dim 1)", params.kernel_size, taps.c_str(),
                          allowUnknown));
    FMSMI_TRY(checkExtent(name, *shapes[i], 0, "N (dim 0)", img.d[0], "img's N", allowUnknown));
    FMSMI_TRY(checkExtent(name, *shapes[i], 2, "H (dim 2)", img.d[2], "img's H", allowUnknown));
    FMSMI_TRY(checkExtent(name, *shapes[i], 3, "W (dim 3)", img.d[3], "img's W", allowUnknown));
  }
  return Status();
}

Status checkOutputShape(nvinfer1::Dims const& img, nvinfer1::Dims const& out, bool allowUnknown) {
  FMSMI_REQUIRE(out.nbDims == 4, StatusCode::kInvalidArgument,
                "output shape " + dimsText(out) + ": expected 4 dimensions (N,C,H,W)");
  static char const* const axes[4] = {"N (dim 0)", "C (dim 1)", "H (dim 2)", "W (dim 3)"};
  static char const* const sources[4] = {"img's N", "img's C", "img's H", "img's W"};
  for (int32_t axis = 0; axis < 4; ++axis) {
    FMSMI_TRY(checkExtent("output", out, axis, axes[axis], img.d[axis], sources[axis], allowUnknown));
  }
  return Status();
}

Status runExtents(nvinfer1::Dims const& img, Extents& extents) {
  FMSMI_REQUIRE(img.nbDims == 4, StatusCode::kInvalidArgument,
                "img shape " + dimsText(img) + ": expected 4 dimensions (N,C,H,W)");
  int64_t const limit = std::numeric_limits<int>::max();
  for (int32_t axis = 0; axis < 4; ++axis) {
    FMSMI_REQUIRE(img.d[axis] >= 0 && img.d[axis] <= limit, StatusCode::kInvalidArgument,
                  "img shape " + dimsText(img) + ": expected extents in [0, " +
                      std::to_string(limit) + "] at run time");
  }
  extents.n = static_cast<int>(img.d[0]);
  extents.c = static_cast<int>(img.d[1]);
  extents.h = static_cast<int>(img.d[2]);
  extents.w = static_cast<int>(img.d[3]);
  return Status();
}

}  // namespace trt
}  // namespace fmsmi
