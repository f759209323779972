#include "ppm_image.h"

#include <cctype>
#include <fstream>

namespace fmsmi {
namespace example {
namespace {

using trt::Status;
using trt::StatusCode;

// Next header token of a PPM file: skips whitespace and '#' comments, reads a run of digits
// or letters. Returns an empty string at end of file.
std::string headerToken(std::istream& in) {
  int ch = in.get();
  while (ch != EOF) {
    if (ch == '#') {
      while (ch != EOF && ch != '\n') ch = in.get();
    } else if (!std::isspace(ch)) {
      break;
    }
    ch = in.get();
  }
  std::string token;
  while (ch != EOF && !std::isspace(ch) && ch != '#') {
    token.push_back(static_cast<char>(ch));
    ch = in.get();
  }
  // The single whitespace byte after the last header token was consumed: pixel data follows.
  return token;
}

Status parsePositive(std::string const& path, char const* what, std::string const& token,
                     long long max, int& value) {
  bool digits = !token.empty() && token.size() <= 9;
  for (char ch : token) digits = digits && std::isdigit(static_cast<unsigned char>(ch));
  FMSMI_REQUIRE(digits && std::stoll(token) >= 1 && std::stoll(token) <= max,
                StatusCode::kInvalidArgument,
                path + ": " + what + "='" + token + "': expected an integer in [1, " +
                    std::to_string(max) + "]");
  value = static_cast<int>(std::stoll(token));
  return Status();
}

}  // namespace

Status readPpm(std::string const& path, RgbImage& image) {
  std::ifstream in(path, std::ios::binary);
  FMSMI_REQUIRE(in.is_open(), StatusCode::kInvalidArgument, path + ": cannot open for reading");
  std::string const magic = headerToken(in);
  FMSMI_REQUIRE(magic == "P6", StatusCode::kInvalidArgument,
                path + ": magic '" + magic + "': expected 'P6' (binary RGB PPM)");
  RgbImage result;
  int maxval = 0;
  FMSMI_TRY(parsePositive(path, "width", headerToken(in), 1 << 16, result.width));
  FMSMI_TRY(parsePositive(path, "height", headerToken(in), 1 << 16, result.height));
  FMSMI_TRY(parsePositive(path, "maxval", headerToken(in), 65535, maxval));
  FMSMI_REQUIRE(maxval == 255, StatusCode::kUnsupported,
                path + ": maxval=" + std::to_string(maxval) + ": expected 255 (8-bit)");
  result.pixels.resize(static_cast<size_t>(result.width) * result.height * 3);
  in.read(reinterpret_cast<char*>(result.pixels.data()),
          static_cast<std::streamsize>(result.pixels.size()));
  FMSMI_REQUIRE(in.gcount() == static_cast<std::streamsize>(result.pixels.size()),
                StatusCode::kInvalidArgument,
                path + ": " + std::to_string(in.gcount()) + " bytes of pixels: expected " +
                    std::to_string(result.pixels.size()) + " (truncated file?)");
  image = std::move(result);
  return Status();
}

Status writePpm(std::string const& path, RgbImage const& image) {
  FMSMI_REQUIRE(image.width > 0 && image.height > 0 &&
                    image.pixels.size() == static_cast<size_t>(image.width) * image.height * 3,
                StatusCode::kInvalidArgument,
                path + ": image " + std::to_string(image.width) + "x" +
                    std::to_string(image.height) + " with " + std::to_string(image.pixels.size()) +
                    " bytes: expected width*height*3 bytes");
  std::ofstream out(path, std::ios::binary);
  FMSMI_REQUIRE(out.is_open(), StatusCode::kInvalidArgument, path + ": cannot open for writing");
  out << "P6\n" << image.width << " " << image.height << "\n255\n";
  out.write(reinterpret_cast<char const*>(image.pixels.data()),
            static_cast<std::streamsize>(image.pixels.size()));
  out.close();
  FMSMI_REQUIRE(!out.fail(), StatusCode::kInvalidArgument, path + ": write failed");
  return Status();
}

}  // namespace example
}  // namespace fmsmi
