// CPU reference of reel's number formats (see QuantRef.h for the contract).
#include "quant/QuantRef.h"

#include "quant/Dp4aMath.h"
#include "quant/MmaMath.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

namespace reel::quant {
namespace {

uint32_t floatBits(float x) {
  return std::bit_cast<uint32_t>(x);
}
float bitsFloat(uint32_t b) {
  return std::bit_cast<float>(b);
}

/// Round half to even, the rounding of every conversion here.
float roundEven(float x) {
  return std::nearbyint(x);
}

/// `x` (a whole number already: rounded or floored) as an int within [lo, hi], clamped as a
/// float first so that no input makes the conversion undefined: infinities and huge values
/// saturate, NaN gives 0 (as the GPU's conversion does).
int toIntClamped(float x, int lo, int hi) {
  if (std::isnan(x)) return 0;
  return static_cast<int>(std::clamp(x, static_cast<float>(lo), static_cast<float>(hi)));
}

uint16_t loadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// ---- per-format block quantizers -----------------------------------------------------

void quantizeQ80Block(const float* x, BlockQ80& b) {
  float amax = 0.0f;
  for (int i = 0; i < kQK32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  b.d = f32ToF16(d);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < kQK32; ++i) b.qs[i] = static_cast<int8_t>(toIntClamped(roundEven(x[i] * id), -127, 127));
}

/// The first of the n values with the largest magnitude, sign kept (0 for all zeros): the
/// signed-max rule of ggml's Q5_0 and Q4_0 quantizers.
float signedAbsMax(const float* x, int n) {
  float amax = 0.0f, signedMax = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      signedMax = x[i];
    }
  }
  return signedMax;
}

/// Packs 32 quants (0..31) as Q5_0 and Q5_1 hold them: low nibbles of elements j and j + 16 in
/// qs[j], 5th bit of element e in bit e of qh.
void packQ5Quants(const std::array<int, kQK32>& q, uint8_t* qs, uint8_t* qhBytes) {
  uint32_t qh = 0;
  for (int j = 0; j < kQK32 / 2; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
    qh |= static_cast<uint32_t>(q[j] >> 4) << j;
    qh |= static_cast<uint32_t>(q[j + 16] >> 4) << (j + 16);
  }
  std::memcpy(qhBytes, &qh, 4);
}

void quantizeQ50Block(const float* x, BlockQ50& b) {
  const float signedMax = signedAbsMax(x, kQK32);
  const float d = signedMax / -16.0f;  // the largest magnitude maps to q = 0 (value -16)
  b.d = f32ToF16(d);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  std::array<int, kQK32> q{};
  for (int i = 0; i < kQK32; ++i) q[i] = toIntClamped(std::floor(x[i] * id + 16.5f), 0, 31);
  packQ5Quants(q, b.qs, b.qh);
}

void quantizeQ51Block(const float* x, BlockQ51& b) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < kQK32; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const float d = (hi - lo) / 31.0f;  // ggml's rule: the block's range in 31 steps from its min
  b.d = f32ToF16(d);
  b.m = f32ToF16(lo);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  std::array<int, kQK32> q{};
  for (int i = 0; i < kQK32; ++i) q[i] = toIntClamped(std::floor((x[i] - lo) * id + 0.5f), 0, 31);
  packQ5Quants(q, b.qs, b.qh);
}

void quantizeQ40Block(const float* x, BlockQ40& b) {
  const float signedMax = signedAbsMax(x, kQK32);
  const float d = signedMax / -8.0f;  // the largest magnitude maps to q = 0 (value -8)
  b.d = f32ToF16(d);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < kQK32 / 2; ++j) {
    const int q0 = toIntClamped(std::floor(x[j] * id + 8.5f), 0, 15);
    const int q1 = toIntClamped(std::floor(x[j + 16] * id + 8.5f), 0, 15);
    b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

/// Q4_K packed 6-bit scale/min of sub-block j (ggml's get_scale_min_k4).
void q4kScaleMin(const uint8_t* s, int j, int& scale, int& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void packQ4kScales(const std::array<int, 8>& ls, const std::array<int, 8>& lm, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = static_cast<uint8_t>(ls[j]);
      s[j + 4] = static_cast<uint8_t>(lm[j]);
    } else {
      s[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      s[j - 4] = static_cast<uint8_t>(s[j - 4] | ((ls[j] >> 4) << 6));
      s[j] = static_cast<uint8_t>(s[j] | ((lm[j] >> 4) << 6));
    }
  }
}

/// The common part of the Q4_K and Q5_K quantizers: per 32-element sub-block min/max, scale
/// (hi - lo) / maxQ and min -lo, the super-block d and dmin (f16), the 6-bit scales and mins
/// packed into `scales`, and each element's quant (0..maxQ) into q.
void quantizeKBlock(const float* x, int maxQ, uint16_t& dBits, uint16_t& dminBits, uint8_t* scales,
                    std::array<int, kQK_K>& q) {
  std::array<float, 8> scale{}, minv{};
  for (int j = 0; j < 8; ++j) {
    float lo = 0.0f, hi = -INFINITY;
    for (int i = 0; i < 32; ++i) {
      lo = std::min(lo, x[32 * j + i]);
      hi = std::max(hi, x[32 * j + i]);
    }
    scale[j] = (hi - lo) / static_cast<float>(maxQ);
    minv[j] = -lo;
  }
  const float maxScale = *std::max_element(scale.begin(), scale.end());
  const float maxMin = *std::max_element(minv.begin(), minv.end());
  dBits = f32ToF16(maxScale / 63.0f);
  dminBits = f32ToF16(maxMin / 63.0f);
  const float d = f16ToF32(dBits), dmin = f16ToF32(dminBits);
  std::array<int, 8> ls{}, lm{};
  for (int j = 0; j < 8; ++j) {
    ls[j] = d > 0.0f ? toIntClamped(roundEven(scale[j] / d), 0, 63) : 0;
    lm[j] = dmin > 0.0f ? toIntClamped(roundEven(minv[j] / dmin), 0, 63) : 0;
  }
  packQ4kScales(ls, lm, scales);
  for (int j = 0; j < 8; ++j) {
    const float step = d * static_cast<float>(ls[j]);
    const float offset = dmin * static_cast<float>(lm[j]);
    for (int i = 0; i < 32; ++i) {
      q[32 * j + i] = step > 0.0f ? toIntClamped(roundEven((x[32 * j + i] + offset) / step), 0, maxQ) : 0;
    }
  }
}

void quantizeQ4kBlock(const float* x, BlockQ4K& b) {
  std::array<int, kQK_K> q{};
  quantizeKBlock(x, 15, b.d, b.dmin, b.scales, q);
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) b.qs[32 * g + l] = static_cast<uint8_t>(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
  }
}

void quantizeQ5kBlock(const float* x, BlockQ5K& b) {
  std::array<int, kQK_K> q{};
  quantizeKBlock(x, 31, b.d, b.dmin, b.scales, q);
  std::memset(b.qh, 0, sizeof(b.qh));
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      const int lo = q[64 * g + l], hi = q[64 * g + 32 + l];
      b.qs[32 * g + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      b.qh[l] = static_cast<uint8_t>(b.qh[l] | ((lo >> 4) << (2 * g)) | ((hi >> 4) << (2 * g + 1)));
    }
  }
}

void quantizeQ6kBlock(const float* x, BlockQ6K& b) {
  std::array<float, 16> scale{};
  float maxScale = 0.0f, maxAbsScale = 0.0f;
  for (int j = 0; j < 16; ++j) {
    float amax = 0.0f, signedMax = 0.0f;
    for (int i = 0; i < 16; ++i) {
      if (std::fabs(x[16 * j + i]) > amax) {
        amax = std::fabs(x[16 * j + i]);
        signedMax = x[16 * j + i];
      }
    }
    scale[j] = signedMax / -32.0f;
    if (std::fabs(scale[j]) > maxAbsScale) {
      maxAbsScale = std::fabs(scale[j]);
      maxScale = scale[j];
    }
  }
  const float iscale = maxScale != 0.0f ? -128.0f / maxScale : 0.0f;
  b.d = f32ToF16(iscale != 0.0f ? 1.0f / iscale : 0.0f);
  const float d = f16ToF32(b.d);
  std::array<int, kQK_K> q{};
  for (int j = 0; j < 16; ++j) {
    const int ls = toIntClamped(roundEven(iscale * scale[j]), -128, 127);
    b.scales[j] = static_cast<int8_t>(ls);
    const float step = d * static_cast<float>(ls);
    for (int i = 0; i < 16; ++i) {
      const int v = step != 0.0f ? toIntClamped(roundEven(x[16 * j + i] / step), -32, 31) : 0;
      q[16 * j + i] = v + 32;
    }
  }
  for (int half = 0; half < 2; ++half) {
    const int* qq = q.data() + 128 * half;
    for (int l = 0; l < 32; ++l) {
      b.ql[64 * half + l] = static_cast<uint8_t>((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
      b.ql[64 * half + l + 32] = static_cast<uint8_t>((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
      b.qh[32 * half + l] = static_cast<uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) |
                                                 ((qq[l + 96] >> 4) << 6));
    }
  }
}

// ---- per-format block dequantizers ---------------------------------------------------

/// The low 4 bits of the quant of element e of a Q4_K/Q5_K block with quants qs: 64-element
/// groups of 32 bytes, low nibbles first.
int kQuantLow4(const uint8_t* qs, int e) {
  const uint8_t byte = qs[32 * (e / 64) + e % 32];
  return e % 64 < 32 ? (byte & 0xF) : (byte >> 4);
}

/// Q4_K quant (0..15) of element e of a block.
int kQuant(const BlockQ4K& b, int e) {
  return kQuantLow4(b.qs, e);
}

/// Q5_K quant (0..31) of element e of a block.
int kQuant(const BlockQ5K& b, int e) {
  return kQuantLow4(b.qs, e) | (((b.qh[e % 32] >> (e / 32)) & 1) << 4);
}

/// Dequantizes a Q4_K / Q5_K block into y[256]: y = d * scale_j * q - dmin * min_j.
template <typename Block>
void dequantizeKBlock(const Block& b, float* y) {
  const float d = f16ToF32(b.d), dmin = f16ToF32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    q4kScaleMin(b.scales, j, sc, m);
    for (int i = 0; i < 32; ++i) {
      y[32 * j + i] =
          d * static_cast<float>(sc) * static_cast<float>(kQuant(b, 32 * j + i)) - dmin * static_cast<float>(m);
    }
  }
}

/// Q4_0 quant minus 8 of element e.
int q40Signed(const BlockQ40& b, int e) {
  return (e < 16 ? (b.qs[e] & 0xF) : (b.qs[e - 16] >> 4)) - 8;
}

/// Q6_K quant (0..63) of element e of a block.
int q6kQuant(const BlockQ6K& b, int e) {
  const int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
  const uint8_t lowByte = b.ql[64 * half + l + 32 * (quarter & 1)];
  const int low = quarter < 2 ? (lowByte & 0xF) : (lowByte >> 4);
  const int high = (b.qh[32 * half + l] >> (2 * quarter)) & 3;
  return low | (high << 4);
}

void dequantizeQ6kBlock(const BlockQ6K& b, float* y) {
  const float d = f16ToF32(b.d);
  for (int e = 0; e < kQK_K; ++e)
    y[e] = d * static_cast<float>(b.scales[e / 16]) * static_cast<float>(q6kQuant(b, e) - 32);
}

/// The 5-bit quant (0..31) of element e of a Q5_0 / Q5_1 block with quants qs and 5th bits qh.
int q5Quant(const uint8_t* qs, const uint8_t* qhBytes, int e) {
  uint32_t qh;
  std::memcpy(&qh, qhBytes, 4);
  const int low = e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4);
  return low | static_cast<int>(((qh >> e) & 1u) << 4);
}

/// Q5_0 quant minus 16 of element e.
int q50Signed(const BlockQ50& b, int e) {
  return q5Quant(b.qs, b.qh, e) - 16;
}

// ---- DP4A-exact lane contributions -----------------------------------------------------

/// Int dot of `count` weight quants with activation quants starting at act[e0].
template <typename QuantAt>
int intDot(QuantAt quantAt, const BlockQ81* act, int64_t e0, int count) {
  int sum = 0;
  for (int i = 0; i < count; ++i) {
    const int64_t e = e0 + i;
    sum += quantAt(i) * act[e / 32].qs[e % 32];
  }
  return sum;
}

/// Q4_K / Q5_K lane c of the super-block b at element `base` of the row (their headers and lane
/// splits are the same).
template <typename Block>
float kQuantLane(const Block& b, const BlockQ81* act, int64_t base, int c) {
  const int g = c / 2, h = c % 2;
  int scLo, mLo, scHi, mHi;
  q4kScaleMin(b.scales, 2 * g, scLo, mLo);
  q4kScaleMin(b.scales, 2 * g + 1, scHi, mHi);
  const int eLo = 64 * g + 16 * h, eHi = eLo + 32;
  const int sumiLo = intDot([&](int i) { return kQuant(b, eLo + i); }, act, base + eLo, 16);
  const int sumiHi = intDot([&](int i) { return kQuant(b, eHi + i); }, act, base + eHi, 16);
  const BlockQ81& aLo = act[(base + eLo) / 32];
  const BlockQ81& aHi = act[(base + eHi) / 32];
  const BlockQ81& aMin = h == 0 ? aLo : aHi;
  return q4kLaneContrib(f16ToF32(b.d), f16ToF32(b.dmin), scLo, sumiLo, f16ToF32(aLo.d), scHi, sumiHi, f16ToF32(aHi.d),
                        h == 0 ? mLo : mHi, f16ToF32(aMin.s));
}

float q6kLane(const BlockQ6K& b, const BlockQ81* act, int64_t base, int c) {
  const int eA = 128 * (c / 4) + 16 * (c % 4), eB = eA + 64;
  const int sumiA = intDot([&](int i) { return q6kQuant(b, eA + i) - 32; }, act, base + eA, 16);
  const int sumiB = intDot([&](int i) { return q6kQuant(b, eB + i) - 32; }, act, base + eB, 16);
  return q6kLaneContrib(f16ToF32(b.d), b.scales[eA / 16], sumiA, f16ToF32(act[(base + eA) / 32].d), b.scales[eB / 16],
                        sumiB, f16ToF32(act[(base + eB) / 32].d));
}

float q80Lane(const BlockQ80& b, const BlockQ81* act, int64_t base) {
  const int sumi = intDot([&](int i) { return static_cast<int>(b.qs[i]); }, act, base, 32);
  return q32LaneContrib(f16ToF32(b.d), f16ToF32(act[base / 32].d), sumi);
}

float q50Lane(const BlockQ50& b, const BlockQ81* act, int64_t base) {
  const int sumi = intDot([&](int i) { return q50Signed(b, i); }, act, base, 32);
  return q32LaneContrib(f16ToF32(b.d), f16ToF32(act[base / 32].d), sumi);
}

float q51Lane(const BlockQ51& b, const BlockQ81* act, int64_t base) {
  const int sumi = intDot([&](int i) { return q5Quant(b.qs, b.qh, i); }, act, base, 32);
  return q51LaneContrib(f16ToF32(b.d), f16ToF32(b.m), f16ToF32(act[base / 32].d), f16ToF32(act[base / 32].s), sumi);
}

float q40Lane(const BlockQ40& b, const BlockQ81* act, int64_t base) {
  const int sumi = intDot([&](int i) { return q40Signed(b, i); }, act, base, 32);
  return q32LaneContrib(f16ToF32(b.d), f16ToF32(act[base / 32].d), sumi);
}

/// Contribution of lane c to unit u (0 where the unit has no block for that lane).
float laneContribution(QType type, const uint8_t* row, const BlockQ81* act, int64_t n, int64_t u, int c) {
  switch (type) {
    case QType::Q4_K:
      return kQuantLane(reinterpret_cast<const BlockQ4K*>(row)[u], act, 256 * u, c);
    case QType::Q5_K:
      return kQuantLane(reinterpret_cast<const BlockQ5K*>(row)[u], act, 256 * u, c);
    case QType::Q6_K:
      return q6kLane(reinterpret_cast<const BlockQ6K*>(row)[u], act, 256 * u, c);
    case QType::Q8_0:
    case QType::Q5_0:
    case QType::Q5_1:
    case QType::Q4_0: {
      const int64_t block = 8 * u + c;
      if (32 * block >= n) return 0.0f;
      if (type == QType::Q8_0) return q80Lane(reinterpret_cast<const BlockQ80*>(row)[block], act, 32 * block);
      if (type == QType::Q4_0) return q40Lane(reinterpret_cast<const BlockQ40*>(row)[block], act, 32 * block);
      if (type == QType::Q5_1) return q51Lane(reinterpret_cast<const BlockQ51*>(row)[block], act, 32 * block);
      return q50Lane(reinterpret_cast<const BlockQ50*>(row)[block], act, 32 * block);
    }
    default:
      throw std::invalid_argument("dotQ81: not a DP4A weight type");
  }
}

}  // namespace

// ---- row sizes ---------------------------------------------------------------------------

size_t rowBytes(QType type, int64_t n) {
  const auto elems = static_cast<int64_t>(blockElems(type));
  if (n < 0 || n % elems != 0) throw std::invalid_argument("rowBytes: n is not a multiple of the block size");
  return static_cast<size_t>(n / elems) * blockBytes(type);
}

bool isDp4aWeightType(QType type) {
  return type == QType::Q8_0 || type == QType::Q5_0 || type == QType::Q5_1 || type == QType::Q4_0 ||
         type == QType::Q4_K || type == QType::Q5_K || type == QType::Q6_K;
}

// ---- scalar conversions ------------------------------------------------------------------

float f16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t mant = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float v = static_cast<float>(mant) * 0x1p-24f;
    return sign ? -v : v;
  }
  if (exp == 31) return bitsFloat(sign | 0x7F800000u | (mant << 13) | (mant ? 0x400000u : 0u));
  return bitsFloat(sign | ((exp + 112u) << 23) | (mant << 13));
}

uint16_t f32ToF16(float x) {
  const uint32_t b = floatBits(x);
  const auto sign = static_cast<uint16_t>((b >> 16) & 0x8000u);
  const uint32_t a = b & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);   // NaN
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds beyond 65504: inf
  if (a >= 0x38800000u) {                                              // normal half
    uint32_t h = (((a >> 23) - 112u) << 10) | ((a & 0x7FFFFFu) >> 13);
    const uint32_t rem = a & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carry may bump the exponent: correct
    return static_cast<uint16_t>(sign | h);
  }
  if (a <= 0x33000000u) return sign;  // at most 2^-25: rounds to zero (the tie goes to even 0)
  const uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - (a >> 23);  // value in units of 2^-24 is mant >> shift
  uint32_t h = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
  if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

float bf16ToF32(uint16_t bits) {
  return bitsFloat(static_cast<uint32_t>(bits) << 16);
}

uint16_t f32ToBf16(float x) {
  const uint32_t b = floatBits(x);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((b >> 16) | 0x40u);
  return static_cast<uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

uint8_t f32ToFp8E4M3(float x) {
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  if (std::isnan(x)) return 0x7F;
  const float a = std::fabs(x);
  if (a >= kFp8E4M3Max) return static_cast<uint8_t>(sign | 0x7E);
  if (a < 0x1p-6f) {  // subnormal range: multiples of 2^-9; 8 * 2^-9 is the smallest normal (code 0x08)
    return static_cast<uint8_t>(sign | static_cast<int>(roundEven(a * 512.0f)));
  }
  int e2 = 0;
  const float frac = std::frexp(a, &e2);  // a = frac * 2^e2, frac in [0.5, 1)
  const int exponent = e2 - 1;            // a = (1 + m) * 2^exponent
  const int mant = static_cast<int>(roundEven((frac * 2.0f - 1.0f) * 8.0f));
  const int code = ((exponent + 7) << 3) + mant;  // a mantissa of 8 carries into the exponent
  return static_cast<uint8_t>(sign | std::min(code, 0x7E));
}

float fp8E4M3ToF32(uint8_t bits) {
  const int exp = (bits >> 3) & 0xF, mant = bits & 7;
  const bool negative = (bits & 0x80) != 0;
  if (exp == 15 && mant == 7) return std::numeric_limits<float>::quiet_NaN();
  const float v =
      exp == 0 ? static_cast<float>(mant) * 0x1p-9f : std::ldexp(1.0f + static_cast<float>(mant) / 8.0f, exp - 7);
  return negative ? -v : v;
}

// ---- rows ----------------------------------------------------------------------------------

void quantizeRow(QType type, const float* x, void* out, int64_t n) {
  const auto blocks = static_cast<int64_t>(rowBytes(type, n) / blockBytes(type));
  auto* o = static_cast<uint8_t*>(out);
  for (int64_t i = 0; i < blocks; ++i) {
    switch (type) {
      case QType::F32:
        std::memcpy(o + 4 * i, x + i, 4);
        break;
      case QType::F16: {
        const uint16_t h = f32ToF16(x[i]);
        std::memcpy(o + 2 * i, &h, 2);
        break;
      }
      case QType::BF16: {
        const uint16_t h = f32ToBf16(x[i]);
        std::memcpy(o + 2 * i, &h, 2);
        break;
      }
      case QType::FP8_E4M3:
        o[i] = f32ToFp8E4M3(x[i]);
        break;
      case QType::Q8_0:
        quantizeQ80Block(x + 32 * i, reinterpret_cast<BlockQ80*>(o)[i]);
        break;
      case QType::Q5_0:
        quantizeQ50Block(x + 32 * i, reinterpret_cast<BlockQ50*>(o)[i]);
        break;
      case QType::Q5_1:
        quantizeQ51Block(x + 32 * i, reinterpret_cast<BlockQ51*>(o)[i]);
        break;
      case QType::Q4_0:
        quantizeQ40Block(x + 32 * i, reinterpret_cast<BlockQ40*>(o)[i]);
        break;
      case QType::Q4_K:
        quantizeQ4kBlock(x + 256 * i, reinterpret_cast<BlockQ4K*>(o)[i]);
        break;
      case QType::Q5_K:
        quantizeQ5kBlock(x + 256 * i, reinterpret_cast<BlockQ5K*>(o)[i]);
        break;
      case QType::Q6_K:
        quantizeQ6kBlock(x + 256 * i, reinterpret_cast<BlockQ6K*>(o)[i]);
        break;
      case QType::Q8_1:
        quantizeQ81(x + 32 * i, reinterpret_cast<BlockQ81*>(o) + i, 32);
        break;
    }
  }
}

uint16_t f64ToF16(double x) {
  if (std::isnan(x) || std::fabs(x) >= 65520.0) return f32ToF16(static_cast<float>(x));  // NaN, +-inf
  if (x == 0.0) return f32ToF16(static_cast<float>(x));
  int exponent = 0;
  std::frexp(x, &exponent);  // |x| = f * 2^exponent, f in [0.5, 1)
  // The spacing of f16 values at x: 2^(exponent - 11) for normals, 2^-24 below 2^-14.
  const int quantumExponent = std::max(exponent - 11, -24);
  const double rounded = std::ldexp(std::nearbyint(std::ldexp(x, -quantumExponent)), quantumExponent);
  return f32ToF16(static_cast<float>(rounded));  // exact: `rounded` is an f16 value
}

void dequantizeRowMmaF16(QType type, const void* in, uint16_t* y, int64_t n) {
  if (type != QType::Q4_K) throw std::invalid_argument("dequantizeRowMmaF16: Q4_K only");
  const auto* blocks = static_cast<const BlockQ4K*>(in);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const BlockQ4K& b = blocks[i];
    const float d = f16ToF32(b.d), dmin = f16ToF32(b.dmin);
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      q4kScaleMin(b.scales, j, sc, m);
      const double scale = f16ToF32(f32ToF16(d * static_cast<float>(sc)));
      const double negMin = f16ToF32(f32ToF16(-(dmin * static_cast<float>(m))));
      for (int e = 0; e < 32; ++e)
        y[kQK_K * i + 32 * j + e] = f64ToF16(static_cast<double>(kQuant(b, 32 * j + e)) * scale + negMin);
    }
  }
}

void dequantizeRow(QType type, const void* in, float* y, int64_t n) {
  const auto blocks = static_cast<int64_t>(rowBytes(type, n) / blockBytes(type));
  const auto* p = static_cast<const uint8_t*>(in);
  for (int64_t i = 0; i < blocks; ++i) {
    switch (type) {
      case QType::F32:
        std::memcpy(y + i, p + 4 * i, 4);
        break;
      case QType::F16:
        y[i] = f16ToF32(loadU16(p + 2 * i));
        break;
      case QType::BF16:
        y[i] = bf16ToF32(loadU16(p + 2 * i));
        break;
      case QType::FP8_E4M3:
        y[i] = fp8E4M3ToF32(p[i]);
        break;
      case QType::Q8_0: {
        const auto& b = reinterpret_cast<const BlockQ80*>(p)[i];
        for (int j = 0; j < 32; ++j) y[32 * i + j] = f16ToF32(b.d) * static_cast<float>(b.qs[j]);
        break;
      }
      case QType::Q5_0: {
        const auto& b = reinterpret_cast<const BlockQ50*>(p)[i];
        for (int j = 0; j < 32; ++j) y[32 * i + j] = f16ToF32(b.d) * static_cast<float>(q50Signed(b, j));
        break;
      }
      case QType::Q5_1: {
        const auto& b = reinterpret_cast<const BlockQ51*>(p)[i];
        const float d = f16ToF32(b.d), m = f16ToF32(b.m);
        for (int j = 0; j < 32; ++j) y[32 * i + j] = d * static_cast<float>(q5Quant(b.qs, b.qh, j)) + m;
        break;
      }
      case QType::Q4_0: {
        const auto& b = reinterpret_cast<const BlockQ40*>(p)[i];
        for (int j = 0; j < 32; ++j) y[32 * i + j] = f16ToF32(b.d) * static_cast<float>(q40Signed(b, j));
        break;
      }
      case QType::Q4_K:
        dequantizeKBlock(reinterpret_cast<const BlockQ4K*>(p)[i], y + 256 * i);
        break;
      case QType::Q5_K:
        dequantizeKBlock(reinterpret_cast<const BlockQ5K*>(p)[i], y + 256 * i);
        break;
      case QType::Q6_K:
        dequantizeQ6kBlock(reinterpret_cast<const BlockQ6K*>(p)[i], y + 256 * i);
        break;
      case QType::Q8_1: {
        const auto& b = reinterpret_cast<const BlockQ81*>(p)[i];
        for (int j = 0; j < 32; ++j) y[32 * i + j] = f16ToF32(b.d) * static_cast<float>(b.qs[j]);
        break;
      }
    }
  }
}

void quantizeQ81(const float* x, BlockQ81* out, int64_t n) {
  if (n % kQK32 != 0) throw std::invalid_argument("quantizeQ81: n is not a multiple of 32");
  for (int64_t blk = 0; blk < n / kQK32; ++blk) {
    const float* v = x + kQK32 * blk;
    float amax = 0.0f;
    for (int i = 0; i < kQK32; ++i) amax = std::max(amax, std::fabs(v[i]));
    const float d = amax / 127.0f;
    int sum = 0;
    for (int i = 0; i < kQK32; ++i) {
      const int q = amax == 0.0f ? 0 : toIntClamped(roundEven(v[i] / d), -127, 127);
      out[blk].qs[i] = static_cast<int8_t>(q);
      sum += q;
    }
    out[blk].d = f32ToF16(d);
    out[blk].s = f32ToF16(d * static_cast<float>(sum));
  }
}

float dotQ81(QType weightType, const void* wrow, const BlockQ81* act, int64_t n) {
  if (!isDp4aWeightType(weightType)) throw std::invalid_argument("dotQ81: not a DP4A weight type");
  (void)rowBytes(weightType, n);  // validates n
  const auto* row = static_cast<const uint8_t*>(wrow);
  const int64_t units = (n + 255) / 256;
  std::array<float, kGemvKSplit> warpSum{};
  for (int w = 0; w < kGemvKSplit; ++w) {
    std::array<float, 8> lane{};
    for (int64_t u = w; u < units; u += kGemvKSplit) {
      for (int c = 0; c < 8; ++c) lane[c] += laneContribution(weightType, row, act, n, u, c);
    }
    warpSum[w] = laneTreeSum8(lane.data());
  }
  float total = warpSum[0];
  for (int w = 1; w < kGemvKSplit; ++w) total += warpSum[w];
  return total;
}

namespace {

/// Warps that split one weight row in the tensor-core kernels (kernels/MmqShape.h's kMmqKSplit).
constexpr int kMmaKSplit = 4;

/// Adds the 8 sub-block terms of a Q4_K / Q5_K super-block (unit u) to acc.
template <typename Block>
float addMmaKQuantTerms(const Block& b, const BlockQ81* act, int64_t u, float acc) {
  const float d = f16ToF32(b.d), dmin = f16ToF32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    q4kScaleMin(b.scales, j, sc, m);
    const int64_t e0 = 256 * u + 32 * j;
    const int sumi = intDot([&](int i) { return kQuant(b, 32 * j + i); }, act, e0, 32);
    const BlockQ81& a = act[e0 / 32];
    acc = mmaAddScaleMin(acc, d * static_cast<float>(sc), dmin * static_cast<float>(m), f16ToF32(a.d), f16ToF32(a.s),
                         sumi);
  }
  return acc;
}

/// Adds the terms of unit u (a K-quant super-block, or a Q8_0 block) to acc, in element order.
float addMmaUnitTerms(QType type, const uint8_t* row, const BlockQ81* act, int64_t u, float acc) {
  switch (type) {
    case QType::Q4_K:
      return addMmaKQuantTerms(reinterpret_cast<const BlockQ4K*>(row)[u], act, u, acc);
    case QType::Q5_K:
      return addMmaKQuantTerms(reinterpret_cast<const BlockQ5K*>(row)[u], act, u, acc);
    case QType::Q6_K: {
      const BlockQ6K& b = reinterpret_cast<const BlockQ6K*>(row)[u];
      const float d = f16ToF32(b.d);
      for (int g = 0; g < 16; ++g) {
        const int64_t e0 = 256 * u + 16 * g;
        const int sumi = intDot([&](int i) { return q6kQuant(b, 16 * g + i) - 32; }, act, e0, 16);
        acc = mmaAddScaled(acc, d * static_cast<float>(b.scales[g]), f16ToF32(act[e0 / 32].d), sumi);
      }
      return acc;
    }
    case QType::Q8_0: {
      const BlockQ80& b = reinterpret_cast<const BlockQ80*>(row)[u];
      const int sumi = intDot([&](int i) { return static_cast<int>(b.qs[i]); }, act, 32 * u, 32);
      return mmaAddScaled(acc, f16ToF32(b.d), f16ToF32(act[u].d), sumi);
    }
    case QType::Q4_0: {
      const BlockQ40& b = reinterpret_cast<const BlockQ40*>(row)[u];
      const int sumi = intDot([&](int i) { return q40Signed(b, i); }, act, 32 * u, 32);
      return mmaAddScaled(acc, f16ToF32(b.d), f16ToF32(act[u].d), sumi);
    }
    case QType::Q5_0: {
      const BlockQ50& b = reinterpret_cast<const BlockQ50*>(row)[u];
      const int sumi = intDot([&](int i) { return q50Signed(b, i); }, act, 32 * u, 32);
      return mmaAddScaled(acc, f16ToF32(b.d), f16ToF32(act[u].d), sumi);
    }
    case QType::Q5_1: {
      const BlockQ51& b = reinterpret_cast<const BlockQ51*>(row)[u];
      const int sumi = intDot([&](int i) { return q5Quant(b.qs, b.qh, i); }, act, 32 * u, 32);
      // w = d q + m: the min enters as -dMin, as the kernel passes it.
      return mmaAddScaleMin(acc, f16ToF32(b.d), -f16ToF32(b.m), f16ToF32(act[u].d), f16ToF32(act[u].s), sumi);
    }
    default:
      throw std::invalid_argument("dotQ81Mma: no tensor-core kernel for this weight type");
  }
}

}  // namespace

float dotQ81Mma(QType weightType, const void* wrow, const BlockQ81* act, int64_t n) {
  if (!isDp4aWeightType(weightType))
    throw std::invalid_argument("dotQ81Mma: no tensor-core kernel for this weight type");
  (void)rowBytes(weightType, n);  // validates n
  const auto* row = static_cast<const uint8_t*>(wrow);
  const int64_t units = n / static_cast<int64_t>(blockElems(weightType));
  float total = 0.0f;
  for (int w = 0; w < kMmaKSplit; ++w) {
    float acc = 0.0f;
    for (int64_t u = w; u < units; u += kMmaKSplit) acc = addMmaUnitTerms(weightType, row, act, u, acc);
    total = w == 0 ? acc : total + acc;
  }
  return total;
}

float dotDequant(QType weightType, const void* wrow, const float* x, int64_t n) {
  std::vector<float> w(static_cast<size_t>(n));
  dequantizeRow(weightType, wrow, w.data(), n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(w[i]) * x[i];
  return static_cast<float>(sum);
}

// ---- row-planar repack ---------------------------------------------------------------------

bool needsRowPlanar(QType type) {
  return type == QType::Q6_K || type == QType::Q8_0 || type == QType::Q5_0 || type == QType::Q5_1 ||
         type == QType::Q4_0;
}

size_t planarRowBytes(QType type, int64_t n) {
  return (rowBytes(type, n) + 15) / 16 * 16;
}

void repackRowPlanar(QType type, const void* in, void* out, int64_t rows, int64_t n) {
  const size_t srcStride = rowBytes(type, n), dstStride = planarRowBytes(type, n);
  const auto nb = static_cast<size_t>(n / static_cast<int64_t>(blockElems(type)));
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src = static_cast<const uint8_t*>(in) + r * srcStride;
    uint8_t* dst = static_cast<uint8_t*>(out) + r * dstStride;
    std::memset(dst, 0, dstStride);
    for (size_t b = 0; b < nb; ++b) {
      if (type == QType::Q6_K) {
        const auto& blk = reinterpret_cast<const BlockQ6K*>(src)[b];
        std::memcpy(dst + 128 * b, blk.ql, 128);
        std::memcpy(dst + 128 * nb + 64 * b, blk.qh, 64);
        std::memcpy(dst + 192 * nb + 16 * b, blk.scales, 16);
        std::memcpy(dst + 208 * nb + 2 * b, &blk.d, 2);
      } else if (type == QType::Q8_0) {
        const auto& blk = reinterpret_cast<const BlockQ80*>(src)[b];
        std::memcpy(dst + 32 * b, blk.qs, 32);
        std::memcpy(dst + 32 * nb + 2 * b, &blk.d, 2);
      } else if (type == QType::Q5_0) {
        const auto& blk = reinterpret_cast<const BlockQ50*>(src)[b];
        std::memcpy(dst + 16 * b, blk.qs, 16);
        std::memcpy(dst + 16 * nb + 4 * b, blk.qh, 4);
        std::memcpy(dst + 20 * nb + 2 * b, &blk.d, 2);
      } else if (type == QType::Q5_1) {
        const auto& blk = reinterpret_cast<const BlockQ51*>(src)[b];
        std::memcpy(dst + 16 * b, blk.qs, 16);
        std::memcpy(dst + 16 * nb + 4 * b, blk.qh, 4);
        std::memcpy(dst + 20 * nb + 4 * b, &blk.d, 2);
        std::memcpy(dst + 20 * nb + 4 * b + 2, &blk.m, 2);
      } else if (type == QType::Q4_0) {
        const auto& blk = reinterpret_cast<const BlockQ40*>(src)[b];
        std::memcpy(dst + 16 * b, blk.qs, 16);
        std::memcpy(dst + 16 * nb + 2 * b, &blk.d, 2);
      }
    }
    if (!needsRowPlanar(type)) std::memcpy(dst, src, srcStride);
  }
}

size_t q81RowBytes(int64_t k) {
  return rowBytes(QType::Q8_1, k);
}

void q81BlocksToPlanar(const BlockQ81* in, void* out, int64_t k) {
  auto* o = static_cast<uint8_t*>(out);
  for (int64_t b = 0; b < k / kQK32; ++b) {
    std::memcpy(o + kQK32 * b, in[b].qs, kQK32);
    std::memcpy(o + k + 4 * b, &in[b].d, 2);
    std::memcpy(o + k + 4 * b + 2, &in[b].s, 2);
  }
}

void q81PlanarToBlocks(const void* in, BlockQ81* out, int64_t k) {
  const auto* p = static_cast<const uint8_t*>(in);
  for (int64_t b = 0; b < k / kQK32; ++b) {
    std::memcpy(out[b].qs, p + kQK32 * b, kQK32);
    std::memcpy(&out[b].d, p + k + 4 * b, 2);
    std::memcpy(&out[b].s, p + k + 4 * b + 2, 2);
  }
}

}  // namespace reel::quant
