// The plugin's identity: what TensorRT's ONNX parser matches an fmsmi::AdaptiveSepConv node
// against (op_type, attribute plugin_version, attribute plugin_namespace), and its fields
// (the node's other attributes). Must agree with export/onnx_export.py.
#ifndef FMSMI_TRT_PLUGIN_NAMES_H
#define FMSMI_TRT_PLUGIN_NAMES_H

namespace fmsmi {
namespace trt {

constexpr char const* kPluginName = "AdaptiveSepConv";
constexpr char const* kPluginVersion = "1";
constexpr char const* kPluginNamespace = "";

constexpr char const* kFieldKernelSize = "kernel_size";  // int32, odd, >= 1 (required)
constexpr char const* kFieldDilation = "dilation";       // int32, >= 1 (default 1)

}  // namespace trt
}  // namespace fmsmi

#endif  // FMSMI_TRT_PLUGIN_NAMES_H
