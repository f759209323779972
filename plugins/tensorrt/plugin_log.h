// Where the plugin's messages go. Every IPluginV3 method is noexcept: failures become a Status,
// and the Status is reported here, then the method returns its error value (-1, nullptr,
// false). Nothing in the plugin aborts the process.
//
// Destinations, as the TensorRT 10/11 plugin libraries do it:
// - the error recorder of the plugin registry, when the application set one (errors only);
// - the logger: the one TensorRT hands over through setLoggerFinder() when it loads the library
//   with IPluginRegistry::loadLibrary, else the library's own (::getLogger()).
#ifndef FMSMI_TRT_PLUGIN_LOG_H
#define FMSMI_TRT_PLUGIN_LOG_H

#include <string>

#include "NvInferRuntime.h"
#include "fmsmi_status.h"

namespace fmsmi {
namespace trt {

// Remember the logger finder TensorRT passes to the exported setLoggerFinder (first one wins).
void setPluginLoggerFinder(nvinfer1::ILoggerFinder* finder) noexcept;

// Log `message` at `severity`, prefixed with "AdaptiveSepConv: <where>: ".
void logMessage(nvinfer1::ILogger::Severity severity, char const* where,
                std::string const& message) noexcept;

// Report a failed Status (error recorder + logger at kERROR).
void reportStatus(char const* where, Status const& status) noexcept;

// Report the exception being handled; call only inside a catch block.
void reportCurrentException(char const* where) noexcept;

}  // namespace trt
}  // namespace fmsmi

#endif  // FMSMI_TRT_PLUGIN_LOG_H
