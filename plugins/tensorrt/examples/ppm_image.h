// Minimal binary PPM (P6, 8-bit RGB) reader and writer for the example program. Other formats:
// convert first, e.g. `ffmpeg -i frame.png frame.ppm` or `convert frame.png frame.ppm`.
#ifndef FMSMI_TRT_EXAMPLE_PPM_IMAGE_H
#define FMSMI_TRT_EXAMPLE_PPM_IMAGE_H

#include <cstdint>
#include <string>
#include <vector>

#include "fmsmi_status.h"

namespace fmsmi {
namespace example {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // height * width * 3, row-major, interleaved RGB
};

// Reads a P6 file with maxval 255 (comments in the header are allowed).
trt::Status readPpm(std::string const& path, RgbImage& image);

// Writes a P6 file with maxval 255.
trt::Status writePpm(std::string const& path, RgbImage const& image);

}  // namespace example
}  // namespace fmsmi

#endif  // FMSMI_TRT_EXAMPLE_PPM_IMAGE_H
