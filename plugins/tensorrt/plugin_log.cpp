#include "plugin_log.h"

#include <atomic>
#include <cstdio>
#include <exception>
#include <new>

#include "plugin_names.h"

namespace fmsmi {
namespace trt {
namespace {

std::atomic<nvinfer1::ILoggerFinder*> gLoggerFinder{nullptr};

nvinfer1::ILogger* currentLogger() noexcept {
  if (nvinfer1::ILoggerFinder* finder = gLoggerFinder.load(std::memory_order_acquire)) {
    try {
      if (nvinfer1::ILogger* logger = finder->findLogger()) return logger;
    } catch (...) {
      // findLogger is not noexcept in every TensorRT version: fall back to the library's.
    }
  }
  return ::getLogger();
}

nvinfer1::ErrorCode toErrorCode(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kInvalidArgument: return nvinfer1::ErrorCode::kINVALID_ARGUMENT;
    case StatusCode::kUnsupported: return nvinfer1::ErrorCode::kUNSUPPORTED_STATE;
    case StatusCode::kCuda: return nvinfer1::ErrorCode::kFAILED_EXECUTION;
    case StatusCode::kOk:
    case StatusCode::kInternal: break;
  }
  return nvinfer1::ErrorCode::kINTERNAL_ERROR;
}

// Builds "AdaptiveSepConv: <where>: <message>" without throwing (falls back to the message).
void emit(nvinfer1::ILogger::Severity severity, char const* where, char const* message) noexcept {
  char line[1024];
  std::snprintf(line, sizeof line, "%s: %s: %s", kPluginName, where, message);
  if (nvinfer1::ILogger* logger = currentLogger()) {
    logger->log(severity, line);
  } else if (severity <= nvinfer1::ILogger::Severity::kWARNING) {
    // No TensorRT logger at all (the library was loaded without TensorRT): do not lose errors.
    std::fprintf(stderr, "[fmsmi TensorRT plugin] %s\n", line);
  }
}

}  // namespace

void setPluginLoggerFinder(nvinfer1::ILoggerFinder* finder) noexcept {
  nvinfer1::ILoggerFinder* expected = nullptr;
  if (finder != nullptr) {
    gLoggerFinder.compare_exchange_strong(expected, finder, std::memory_order_acq_rel);
  }
}

void logMessage(nvinfer1::ILogger::Severity severity, char const* where,
                std::string const& message) noexcept {
  emit(severity, where, message.c_str());
}

void reportStatus(char const* where, Status const& status) noexcept {
  char line[1024];
  std::snprintf(line, sizeof line, "%s: %s: %s (%s)", kPluginName, where, status.message().c_str(),
                statusCodeName(status.code()));
  if (nvinfer1::IPluginRegistry* registry = ::getPluginRegistry()) {
    if (nvinfer1::IErrorRecorder* recorder = registry->getErrorRecorder()) {
      recorder->reportError(toErrorCode(status.code()), line);
    }
  }
  if (nvinfer1::ILogger* logger = currentLogger()) {
    logger->log(nvinfer1::ILogger::Severity::kERROR, line);
  } else {
    std::fprintf(stderr, "[fmsmi TensorRT plugin] %s\n", line);
  }
}

void reportCurrentException(char const* where) noexcept {
  try {
    throw;
  } catch (std::bad_alloc const&) {
    emit(nvinfer1::ILogger::Severity::kERROR, where, "out of host memory");
  } catch (std::exception const& error) {
    // Building the Status may itself throw bad_alloc: report the bare text then.
    try {
      reportStatus(where, Status::error(StatusCode::kInternal,
                                        std::string("unexpected exception: ") + error.what()));
    } catch (...) {
      emit(nvinfer1::ILogger::Severity::kERROR, where, error.what());
    }
  } catch (...) {
    emit(nvinfer1::ILogger::Severity::kERROR, where, "unexpected exception of unknown type");
  }
}

}  // namespace trt
}  // namespace fmsmi
