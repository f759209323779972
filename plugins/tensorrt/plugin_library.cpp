// Entry points of libfmsmi_trt_plugin.so, the only symbols it exports (plugin.map):
//
// - getCreators / setLoggerFinder: what IPluginRegistry::loadLibrary (Python:
//   registry.load_library, trtexec --dynamicPlugins) looks up. This is the recommended way to
//   load the plugin, and the only one the lean and dispatch runtimes support.
// - REGISTER_TENSORRT_PLUGIN: registers the creator with getPluginRegistry() as soon as the
//   library is loaded, for applications that link it or dlopen() it by hand.
//
// The two do not mix by themselves: loadLibrary dlopen()s the library (so the static
// registration runs), then registers what getCreators returns, and fails (returns null) when a
// creator of that name is already registered, or when getCreators returns none. So getCreators
// takes the statically registered creator back out of the registry before handing it over:
// whichever way the library is loaded, the creator is registered exactly once, and under
// loadLibrary it belongs to the library handle (deregisterLibrary removes it).
#include <atomic>
#include <cstdint>

#include "NvInferRuntime.h"
#include "adaptive_sepconv_plugin.h"
#include "plugin_log.h"
#include "plugin_names.h"

#define FMSMI_TRT_EXPORT extern "C" __attribute__((visibility("default")))

namespace fmsmi {
namespace trt {
namespace {

AdaptiveSepConvCreator& sharedCreator() {
  static AdaptiveSepConvCreator creator;
  return creator;
}

// Set by the static registrar when registerCreator succeeded; cleared by getCreators.
std::atomic<bool> gStaticallyRegistered{false};

// What REGISTER_TENSORRT_PLUGIN runs at load time: registers the shared creator, records that
// it did (for getCreators), and lets no exception escape a static initializer.
class StaticRegistration {
 public:
  StaticRegistration() noexcept {
    try {
      nvinfer1::IPluginRegistry* registry = ::getPluginRegistry();
      if (registry != nullptr &&
          registry->registerCreator(sharedCreator(), kPluginNamespace)) {
        gStaticallyRegistered.store(true, std::memory_order_release);
      }
    } catch (...) {
      reportCurrentException("static registration");
    }
  }
};

}  // namespace
}  // namespace trt
}  // namespace fmsmi

// REGISTER_TENSORRT_PLUGIN(T) defines `static nvinfer1::PluginRegistrar<T>`, which registers a
// T it owns. The specialization below routes it through StaticRegistration, which registers
// the library's one shared creator and remembers that it did.
namespace nvinfer1 {
template <>
class PluginRegistrar<fmsmi::trt::AdaptiveSepConvCreator> {
 private:
  fmsmi::trt::StaticRegistration mRegistration;
};
}  // namespace nvinfer1

using fmsmi::trt::AdaptiveSepConvCreator;
REGISTER_TENSORRT_PLUGIN(AdaptiveSepConvCreator);

FMSMI_TRT_EXPORT nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
  using fmsmi::trt::sharedCreator;
  static nvinfer1::IPluginCreatorInterface* const creators[] = {&sharedCreator()};
  if (fmsmi::trt::gStaticallyRegistered.exchange(false, std::memory_order_acq_rel)) {
    if (nvinfer1::IPluginRegistry* registry = ::getPluginRegistry()) {
      registry->deregisterCreator(static_cast<nvinfer1::IPluginCreatorInterface const&>(sharedCreator()));
    }
  }
  nbCreators = 1;
  return creators;
}

FMSMI_TRT_EXPORT void setLoggerFinder(nvinfer1::ILoggerFinder* finder) {
  fmsmi::trt::setPluginLoggerFinder(finder);
}
