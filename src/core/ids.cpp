#include "core/ids.h"

#include <cctype>
#include <cstdint>
#include <mutex>
#include <random>

namespace lsh {

std::string NewUuidV7(SysTime now) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  static uint64_t last_ms = 0;
  static uint64_t rand_a = 0;  // 12 bits
  static uint64_t rand_b = 0;  // 62 bits
  constexpr uint64_t kMaxB = (uint64_t(1) << 62) - 1;
  uint64_t ms = static_cast<uint64_t>(now.time_since_epoch().count());
  uint64_t a, bb;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (ms <= last_ms) {
      // Same millisecond (or the clock stepped back): count up so ids keep increasing.
      ms = last_ms;
      if (rand_b == kMaxB) {
        rand_b = 0;
        rand_a = (rand_a + 1) & 0xfff;
      } else {
        ++rand_b;
      }
    } else {
      last_ms = ms;
      rand_a = rng() & 0x7ff;  // top bit clear: headroom for the counter
      rand_b = rng() >> 3;     // likewise
    }
    a = rand_a;
    bb = rand_b;
  }
  uint8_t b[16];
  for (int i = 0; i < 6; ++i) b[i] = uint8_t(ms >> (40 - 8 * i));
  b[6] = uint8_t(0x70 | ((a >> 8) & 0x0f));
  b[7] = uint8_t(a);
  b[8] = uint8_t(0x80 | ((bb >> 56) & 0x3f));
  for (int i = 0; i < 7; ++i) b[9 + i] = uint8_t(bb >> (48 - 8 * i));
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[b[i] >> 4]);
    out.push_back(hex[b[i] & 15]);
  }
  return out;
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

}  // namespace lsh
