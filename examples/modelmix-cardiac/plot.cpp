// Line plots (see plot.hpp): layout, ticks, a Bresenham line rasteriser and a 5×7 font.
#include "plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "modelmix/core/error.hpp"

namespace modelmix_cardiac {

namespace {

// ' '..'~', one byte per row from the top, bit 4 = left column; rows 0..6 stand on the
// baseline, rows 7..8 hold descenders (g j p q y , ;).
constexpr std::uint8_t font[95][9] = {
    {0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00}, {0x04,0x04,0x04,0x04,0x04,0x00,0x04,0x00,0x00},  // ' ' '!'
    {0x0A,0x0A,0x00,0x00,0x00,0x00,0x00,0x00,0x00}, {0x0A,0x0A,0x1F,0x0A,0x1F,0x0A,0x0A,0x00,0x00},  // '"' '#'
    {0x04,0x0F,0x14,0x0E,0x05,0x1E,0x04,0x00,0x00}, {0x18,0x19,0x02,0x04,0x08,0x13,0x03,0x00,0x00},  // '$' '%'
    {0x0C,0x12,0x14,0x08,0x15,0x12,0x0D,0x00,0x00}, {0x04,0x04,0x08,0x00,0x00,0x00,0x00,0x00,0x00},  // '&' "'"
    {0x02,0x04,0x08,0x08,0x08,0x04,0x02,0x00,0x00}, {0x08,0x04,0x02,0x02,0x02,0x04,0x08,0x00,0x00},  // '(' ')'
    {0x00,0x04,0x15,0x0E,0x15,0x04,0x00,0x00,0x00}, {0x00,0x04,0x04,0x1F,0x04,0x04,0x00,0x00,0x00},  // '*' '+'
    {0x00,0x00,0x00,0x00,0x00,0x0C,0x0C,0x04,0x08}, {0x00,0x00,0x00,0x1F,0x00,0x00,0x00,0x00,0x00},  // ',' '-'
    {0x00,0x00,0x00,0x00,0x00,0x0C,0x0C,0x00,0x00}, {0x00,0x01,0x02,0x04,0x08,0x10,0x00,0x00,0x00},  // '.' '/'
    {0x0E,0x11,0x13,0x15,0x19,0x11,0x0E,0x00,0x00}, {0x04,0x0C,0x04,0x04,0x04,0x04,0x0E,0x00,0x00},  // '0' '1'
    {0x0E,0x11,0x01,0x02,0x04,0x08,0x1F,0x00,0x00}, {0x1F,0x02,0x04,0x02,0x01,0x11,0x0E,0x00,0x00},  // '2' '3'
    {0x02,0x06,0x0A,0x12,0x1F,0x02,0x02,0x00,0x00}, {0x1F,0x10,0x1E,0x01,0x01,0x11,0x0E,0x00,0x00},  // '4' '5'
    {0x06,0x08,0x10,0x1E,0x11,0x11,0x0E,0x00,0x00}, {0x1F,0x01,0x02,0x04,0x08,0x08,0x08,0x00,0x00},  // '6' '7'
    {0x0E,0x11,0x11,0x0E,0x11,0x11,0x0E,0x00,0x00}, {0x0E,0x11,0x11,0x0F,0x01,0x02,0x0C,0x00,0x00},  // '8' '9'
    {0x00,0x0C,0x0C,0x00,0x0C,0x0C,0x00,0x00,0x00}, {0x00,0x0C,0x0C,0x00,0x00,0x0C,0x0C,0x04,0x08},  // ':' ';'
    {0x02,0x04,0x08,0x10,0x08,0x04,0x02,0x00,0x00}, {0x00,0x00,0x1F,0x00,0x1F,0x00,0x00,0x00,0x00},  // '<' '='
    {0x08,0x04,0x02,0x01,0x02,0x04,0x08,0x00,0x00}, {0x0E,0x11,0x01,0x02,0x04,0x00,0x04,0x00,0x00},  // '>' '?'
    {0x0E,0x11,0x01,0x0D,0x15,0x15,0x0E,0x00,0x00}, {0x0E,0x11,0x11,0x1F,0x11,0x11,0x11,0x00,0x00},  // '@' 'A'
    {0x1E,0x11,0x11,0x1E,0x11,0x11,0x1E,0x00,0x00}, {0x0E,0x11,0x10,0x10,0x10,0x11,0x0E,0x00,0x00},  // 'B' 'C'
    {0x1C,0x12,0x11,0x11,0x11,0x12,0x1C,0x00,0x00}, {0x1F,0x10,0x10,0x1E,0x10,0x10,0x1F,0x00,0x00},  // 'D' 'E'
    {0x1F,0x10,0x10,0x1E,0x10,0x10,0x10,0x00,0x00}, {0x0E,0x11,0x10,0x17,0x11,0x11,0x0F,0x00,0x00},  // 'F' 'G'
    {0x11,0x11,0x11,0x1F,0x11,0x11,0x11,0x00,0x00}, {0x0E,0x04,0x04,0x04,0x04,0x04,0x0E,0x00,0x00},  // 'H' 'I'
    {0x07,0x02,0x02,0x02,0x02,0x12,0x0C,0x00,0x00}, {0x11,0x12,0x14,0x18,0x14,0x12,0x11,0x00,0x00},  // 'J' 'K'
    {0x10,0x10,0x10,0x10,0x10,0x10,0x1F,0x00,0x00}, {0x11,0x1B,0x15,0x15,0x11,0x11,0x11,0x00,0x00},  // 'L' 'M'
    {0x11,0x11,0x19,0x15,0x13,0x11,0x11,0x00,0x00}, {0x0E,0x11,0x11,0x11,0x11,0x11,0x0E,0x00,0x00},  // 'N' 'O'
    {0x1E,0x11,0x11,0x1E,0x10,0x10,0x10,0x00,0x00}, {0x0E,0x11,0x11,0x11,0x15,0x12,0x0D,0x00,0x00},  // 'P' 'Q'
    {0x1E,0x11,0x11,0x1E,0x14,0x12,0x11,0x00,0x00}, {0x0F,0x10,0x10,0x0E,0x01,0x01,0x1E,0x00,0x00},  // 'R' 'S'
    {0x1F,0x04,0x04,0x04,0x04,0x04,0x04,0x00,0x00}, {0x11,0x11,0x11,0x11,0x11,0x11,0x0E,0x00,0x00},  // 'T' 'U'
    {0x11,0x11,0x11,0x11,0x11,0x0A,0x04,0x00,0x00}, {0x11,0x11,0x11,0x15,0x15,0x15,0x0A,0x00,0x00},  // 'V' 'W'
    {0x11,0x11,0x0A,0x04,0x0A,0x11,0x11,0x00,0x00}, {0x11,0x11,0x0A,0x04,0x04,0x04,0x04,0x00,0x00},  // 'X' 'Y'
    {0x1F,0x01,0x02,0x04,0x08,0x10,0x1F,0x00,0x00}, {0x0E,0x08,0x08,0x08,0x08,0x08,0x0E,0x00,0x00},  // 'Z' '['
    {0x00,0x10,0x08,0x04,0x02,0x01,0x00,0x00,0x00}, {0x0E,0x02,0x02,0x02,0x02,0x02,0x0E,0x00,0x00},  // '\\' ']'
    {0x04,0x0A,0x11,0x00,0x00,0x00,0x00,0x00,0x00}, {0x00,0x00,0x00,0x00,0x00,0x00,0x1F,0x00,0x00},  // '^' '_'
    {0x08,0x04,0x02,0x00,0x00,0x00,0x00,0x00,0x00}, {0x00,0x00,0x0E,0x01,0x0F,0x11,0x0F,0x00,0x00},  // '`' 'a'
    {0x10,0x10,0x16,0x19,0x11,0x11,0x1E,0x00,0x00}, {0x00,0x00,0x0E,0x10,0x10,0x11,0x0E,0x00,0x00},  // 'b' 'c'
    {0x01,0x01,0x0D,0x13,0x11,0x11,0x0F,0x00,0x00}, {0x00,0x00,0x0E,0x11,0x1F,0x10,0x0E,0x00,0x00},  // 'd' 'e'
    {0x06,0x09,0x08,0x1C,0x08,0x08,0x08,0x00,0x00}, {0x00,0x00,0x0F,0x11,0x11,0x11,0x0F,0x01,0x0E},  // 'f' 'g'
    {0x10,0x10,0x16,0x19,0x11,0x11,0x11,0x00,0x00}, {0x04,0x00,0x0C,0x04,0x04,0x04,0x0E,0x00,0x00},  // 'h' 'i'
    {0x02,0x00,0x06,0x02,0x02,0x02,0x02,0x12,0x0C}, {0x10,0x10,0x12,0x14,0x18,0x14,0x12,0x00,0x00},  // 'j' 'k'
    {0x0C,0x04,0x04,0x04,0x04,0x04,0x0E,0x00,0x00}, {0x00,0x00,0x1A,0x15,0x15,0x11,0x11,0x00,0x00},  // 'l' 'm'
    {0x00,0x00,0x16,0x19,0x11,0x11,0x11,0x00,0x00}, {0x00,0x00,0x0E,0x11,0x11,0x11,0x0E,0x00,0x00},  // 'n' 'o'
    {0x00,0x00,0x1E,0x11,0x11,0x11,0x1E,0x10,0x10}, {0x00,0x00,0x0F,0x11,0x11,0x11,0x0F,0x01,0x01},  // 'p' 'q'
    {0x00,0x00,0x16,0x19,0x10,0x10,0x10,0x00,0x00}, {0x00,0x00,0x0E,0x10,0x0E,0x01,0x1E,0x00,0x00},  // 'r' 's'
    {0x08,0x08,0x1C,0x08,0x08,0x09,0x06,0x00,0x00}, {0x00,0x00,0x11,0x11,0x11,0x13,0x0D,0x00,0x00},  // 't' 'u'
    {0x00,0x00,0x11,0x11,0x11,0x0A,0x04,0x00,0x00}, {0x00,0x00,0x11,0x11,0x15,0x15,0x0A,0x00,0x00},  // 'v' 'w'
    {0x00,0x00,0x11,0x0A,0x04,0x0A,0x11,0x00,0x00}, {0x00,0x00,0x11,0x11,0x11,0x11,0x0F,0x01,0x0E},  // 'x' 'y'
    {0x00,0x00,0x1F,0x02,0x04,0x08,0x1F,0x00,0x00}, {0x03,0x04,0x04,0x08,0x04,0x04,0x03,0x00,0x00},  // 'z' '{'
    {0x04,0x04,0x04,0x04,0x04,0x04,0x04,0x00,0x00}, {0x18,0x04,0x04,0x02,0x04,0x04,0x18,0x00,0x00},  // '|' '}'
    {0x00,0x00,0x08,0x15,0x02,0x00,0x00,0x00,0x00},  // '~'
};

constexpr int glyph_width = 5, glyph_height = 9, cap_height = 7, glyph_advance = 6;
constexpr plot_rgb ink{30, 30, 30}, faint_ink{130, 130, 130}, grid{228, 228, 228}, legend_border{170, 170, 170};
constexpr plot_rgb palette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {23, 190, 207}};
constexpr double inf = std::numeric_limits<double>::infinity();

struct rect {
  int x0, y0, x1, y1;  // half-open
  [[nodiscard]] bool contains(int x, int y) const { return x >= x0 && x < x1 && y >= y0 && y < y1; }
};

// Drawing is clipped to `clip` so that nothing spills into a neighbouring panel or over the frame.
struct canvas {
  RgbImage& image;
  rect clip;
  void put(int x, int y, plot_rgb c) const {
    if (!clip.contains(x, y) || !rect{0, 0, image.width, image.height}.contains(x, y)) return;
    std::copy(c.begin(), c.end(), image.pixels.begin() + (static_cast<std::ptrdiff_t>(y) * image.width + x) * 3);
  }
  [[nodiscard]] plot_rgb at(int x, int y) const {
    const auto* p = &image.pixels[(static_cast<std::size_t>(y) * static_cast<std::size_t>(image.width) + static_cast<std::size_t>(x)) * 3];
    return {p[0], p[1], p[2]};
  }
  void fill(const rect& r, plot_rgb c) const {
    for (int y = r.y0; y < r.y1; ++y)
      for (int x = r.x0; x < r.x1; ++x) put(x, y, c);
  }
  void outline(const rect& r, plot_rgb c) const {  // just outside r
    for (int x = r.x0 - 1; x <= r.x1; ++x) put(x, r.y0 - 1, c), put(x, r.y1, c);
    for (int y = r.y0; y < r.y1; ++y) put(r.x0 - 1, y, c), put(r.x1, y, c);
  }
};

// Upright, or turned a quarter counter-clockwise (reading upwards) with (x, y) its top-left corner.
void text(const canvas& c, int x, int y, std::string_view s, plot_rgb colour, int scale, bool upwards = false) {
  const int w = text_width(s, scale);
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto code = static_cast<unsigned char>(s[i]);
    if (code < 32 || code > 126) code = '?';
    for (int row = 0; row < glyph_height; ++row)
      for (int col = 0; col < glyph_width; ++col) {
        if (((font[code - 32][row] >> (glyph_width - 1 - col)) & 1) == 0) continue;
        for (int sy = 0; sy < scale; ++sy)
          for (int sx = 0; sx < scale; ++sx) {
            const int u = (static_cast<int>(i) * glyph_advance + col) * scale + sx, v = row * scale + sy;
            if (upwards) c.put(x + v, y + w - 1 - u, colour);
            else c.put(x + u, y + v, colour);
          }
      }
  }
}

// Liang–Barsky: the part of a→b inside r's pixel centres; false when none is.
bool clip_segment(double& ax, double& ay, double& bx, double& by, const rect& r) {
  const double dx = bx - ax, dy = by - ay;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {ax - r.x0, r.x1 - 1 - ax, ay - r.y0, r.y1 - 1 - ay};
  double t0 = 0, t1 = 1;
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
      continue;
    }
    const double t = q[i] / p[i];
    if (p[i] < 0) t0 = std::max(t0, t);
    else t1 = std::min(t1, t);
    if (t0 > t1) return false;
  }
  bx = ax + t1 * dx, by = ay + t1 * dy;
  ax += t0 * dx, ay += t0 * dy;
  return true;
}

// Bresenham with a 2×2 brush.
void line(const canvas& c, double ax, double ay, double bx, double by, plot_rgb colour) {
  if (!std::isfinite(ax + ay + bx + by) || !clip_segment(ax, ay, bx, by, c.clip)) return;
  int x0 = static_cast<int>(std::lround(ax)), y0 = static_cast<int>(std::lround(ay));
  const int x1 = static_cast<int>(std::lround(bx)), y1 = static_cast<int>(std::lround(by));
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  for (int err = dx + dy;;) {
    c.fill({x0, y0, x0 + 2, y0 + 2}, colour);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

int text_scale(const plot_layout& layout) { return layout.panel_width >= 480 && layout.panel_height >= 300 ? 2 : 1; }

// A flat range gets ±10 % of its value (±1 around 0).
double flat_span(double v) { return v == 0 ? 1 : std::abs(v) * 0.1; }

double pow10(int e) { return std::pow(10.0, e); }

// Decades when at least three fit, else 1, 2, 5 × 10^k, else linear ticks.
std::vector<double> log_ticks(double lo, double hi, int approx_count) {
  const int a = static_cast<int>(std::ceil(std::log10(lo) - 1e-9)), b = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
  std::vector<double> ticks;
  if (b - a >= 2) {
    const int every = std::max(1, (b - a + approx_count - 1) / approx_count);
    for (int e = a; e <= b; e += every) ticks.push_back(pow10(e));
    return ticks;
  }
  for (int e = a - 1; e <= b; ++e)
    for (double m : {1.0, 2.0, 5.0})
      if (const double v = e < 0 ? m / pow10(-e) : m * pow10(e); v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12))
        ticks.push_back(v);
  return ticks.size() >= 2 ? ticks : nice_ticks(lo, hi, approx_count);
}

// %g to the digits that `step` needs (at least 6, so 1000 stays "1000"), or %e with exactly
// those digits; exponents without '+' and leading zeros.
std::string format_number(double value, double step, bool exponent) {
  if (value == 0 || (step > 0 && std::abs(value) < step * 1e-9)) return "0";
  int digits = 1;
  if (step > 0 && std::isfinite(step) && std::isfinite(value))
    digits = std::clamp(static_cast<int>(std::floor(std::log10(std::abs(value))) - std::floor(std::log10(step))) + 1, 1, 15);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, exponent ? "%.*e" : "%.*g", exponent ? digits - 1 : std::max(digits, 6), value);
  std::string s = buffer;
  const auto e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mantissa = s.substr(0, e);
  if (mantissa.find('.') != std::string::npos) {
    mantissa.erase(mantissa.find_last_not_of('0') + 1);
    if (mantissa.back() == '.') mantissa.pop_back();
  }
  return mantissa + "e" + std::to_string(std::atoi(s.c_str() + e + 1));
}

// One style per axis: if any label needs an exponent, all get one ("5e5 1e6", not "500000 1e6").
std::vector<std::string> tick_labels(const std::vector<double>& ticks, bool log) {
  std::vector<std::string> labels;
  for (bool exponent : {false, true}) {
    labels.clear();
    for (double t : ticks)
      labels.push_back(format_number(t, log || ticks.size() < 2 ? std::abs(t) : ticks[1] - ticks[0], exponent));
    if (std::none_of(labels.begin(), labels.end(), [](const std::string& l) { return l.find('e') != std::string::npos; }))
      break;
  }
  return labels;
}

int widest(const std::vector<std::string>& labels, int scale) {
  int w = 0;
  for (const auto& s : labels) w = std::max(w, text_width(s, scale));
  return w;
}

bool usable(const plot_panel& panel, double x, double y) {
  return std::isfinite(x) && std::isfinite(y) && (!panel.log_y || y > 0);
}

struct panel_frame {
  rect cell;  // the panel's share of the figure
  rect plot;  // the plot area, inside the frame
  int scale = 1;
  std::optional<plot_axes> axes;  // none without data
};

panel_frame lay_out(const std::vector<plot_panel>& panels, std::size_t index, const plot_layout& layout) {
  MODELMIX_REQUIRE(!panels.empty(), "render_plot: no panels");
  MODELMIX_REQUIRE(index < panels.size(), "render_plot: panel ", index, " of ", panels.size());
  MODELMIX_REQUIRE(layout.panel_width >= 160 && layout.panel_width <= 8192 && layout.panel_height >= 120 &&
                       layout.panel_height <= 8192 && layout.columns >= 1,
                   "render_plot: layout ", layout.panel_width, "x", layout.panel_height, " with ", layout.columns,
                   " columns (panels 160..8192 x 120..8192, columns >= 1)");
  const plot_panel& p = panels[index];
  for (const auto& s : p.series)
    MODELMIX_REQUIRE(s.x.size() == s.y.size(), "render_plot: panel \"", p.title, "\": series \"", s.name, "\" has ",
                     s.x.size(), " x values but ", s.y.size(), " y values");
  for (const auto& bound : {p.y_min, p.y_max})
    MODELMIX_REQUIRE(!bound || (std::isfinite(*bound) && (!p.log_y || *bound > 0)), "render_plot: panel \"", p.title,
                     "\": y range bound ", *bound, p.log_y ? " (log axis needs finite values > 0)" : " is not finite");
  MODELMIX_REQUIRE(!p.y_min || !p.y_max || *p.y_min < *p.y_max, "render_plot: panel \"", p.title, "\": y_min ",
                   *p.y_min, " is not below y_max ", *p.y_max);

  const int column = static_cast<int>(index) % layout.columns, row = static_cast<int>(index) / layout.columns;
  const int W = layout.panel_width, H = layout.panel_height, s = text_scale(layout), th = text_height(s);
  const int pad = 3 * s, tick = 3 * s;
  panel_frame f{{column * W, row * H, (column + 1) * W, (row + 1) * H}, {}, s, std::nullopt};
  const int top = f.cell.y0 + th + 3 * pad, bottom = f.cell.y1 - (1 + tick + 3 * pad + 2 * th);
  f.plot = {f.cell.x0 + 4 * pad + th + tick + text_width("0.0", s), top, f.cell.x1 - 4 * pad, bottom};

  const auto axis_y = [&](double y) { return p.log_y ? std::log10(y) : y; };
  double x_lo = inf, x_hi = -inf, y_lo = inf, y_hi = -inf;
  for (const auto& series : p.series)
    for (std::size_t i = 0; i < series.x.size(); ++i)
      if (usable(p, series.x[i], series.y[i])) {
        x_lo = std::min(x_lo, series.x[i]), x_hi = std::max(x_hi, series.x[i]);
        y_lo = std::min(y_lo, axis_y(series.y[i])), y_hi = std::max(y_hi, axis_y(series.y[i]));
      }
  if (x_lo > x_hi) return f;

  if (x_hi == x_lo) x_lo -= flat_span(x_lo), x_hi += flat_span(x_hi);
  const double margin = 0.05 * (y_hi - y_lo);
  y_lo -= margin, y_hi += margin;
  if (y_hi == y_lo) y_lo -= flat_span(y_lo), y_hi += flat_span(y_hi);
  if (p.y_min) y_lo = axis_y(*p.y_min);
  if (p.y_max) y_hi = axis_y(*p.y_max);
  if (y_hi <= y_lo) {  // one fixed bound lies beyond all the data
    if (p.y_min) y_hi = y_lo + flat_span(y_lo);
    else y_lo = y_hi - flat_span(y_hi);
  }

  plot_axes a;
  a.log_y = p.log_y;
  a.x_lo = x_lo, a.x_hi = x_hi;
  a.y_lo = p.log_y ? std::pow(10.0, y_lo) : y_lo, a.y_hi = p.log_y ? std::pow(10.0, y_hi) : y_hi;
  a.top = top, a.height = bottom - top;
  const int y_count = std::max(2, a.height / (20 + 20 * s));
  a.y_ticks = p.log_y ? log_ticks(a.y_lo, a.y_hi, y_count) : nice_ticks(a.y_lo, a.y_hi, y_count);
  // Over-long labels are cut at the panel's edge rather than squeezing the plot away.
  a.left = std::min(f.cell.x0 + 4 * pad + th + tick + 1 + widest(tick_labels(a.y_ticks, p.log_y), s), f.cell.x0 + W / 2);
  int right_margin = 4 * pad;
  for (int pass = 0; pass < 2; ++pass) {
    a.width = f.cell.x1 - right_margin - a.left;
    for (int count = std::max(2, a.width / (50 * s));; --count) {
      a.x_ticks = nice_ticks(x_lo, x_hi, count);
      const double spacing = a.x_ticks.size() < 2 ? inf : (a.x_ticks[1] - a.x_ticks[0]) / (x_hi - x_lo) * (a.width - 1);
      if (count <= 1 || spacing >= widest(tick_labels(a.x_ticks, false), s) + 2 * glyph_advance * s) break;
    }
    right_margin = std::clamp(text_width(tick_labels(a.x_ticks, false).back(), s) / 2 + pad, 4 * pad, W / 4);
  }
  f.plot = {a.left, a.top, a.left + a.width, a.top + a.height};
  f.axes = a;
  return f;
}

// The legend goes to the corner where it covers the fewest curve pixels.
void legend(const canvas& c, const plot_panel& p, const rect& plot, int s) {
  const int th = text_height(s), pad = 3 * s, swatch = 16 * s;
  int rows = 0, name_width = 0;
  for (const auto& series : p.series)
    if (!series.name.empty()) ++rows, name_width = std::max(name_width, text_width(series.name, s));
  if (rows == 0) return;
  const int w = 3 * pad + swatch + name_width, h = pad + rows * (th + pad), inset = 2 * pad;
  const rect corners[] = {{plot.x1 - inset - w, plot.y0 + inset, plot.x1 - inset, plot.y0 + inset + h},
                          {plot.x0 + inset, plot.y0 + inset, plot.x0 + inset + w, plot.y0 + inset + h},
                          {plot.x1 - inset - w, plot.y1 - inset - h, plot.x1 - inset, plot.y1 - inset},
                          {plot.x0 + inset, plot.y1 - inset - h, plot.x0 + inset + w, plot.y1 - inset}};
  rect best = corners[0];
  long best_cover = std::numeric_limits<long>::max();
  for (const rect& r : corners) {
    long cover = 0;
    for (int y = std::max(r.y0, plot.y0); y < std::min(r.y1, plot.y1); ++y)
      for (int x = std::max(r.x0, plot.x0); x < std::min(r.x1, plot.x1); ++x)
        cover += c.at(x, y) != plot_background && c.at(x, y) != grid;
    if (cover < best_cover) best = r, best_cover = cover;
  }
  c.fill(best, plot_background);
  c.outline(best, legend_border);
  int y = best.y0 + pad;
  for (std::size_t i = 0; i < p.series.size(); ++i) {
    if (p.series[i].name.empty()) continue;
    const int mid = y + cap_height * s / 2;
    line(c, best.x0 + pad, mid - 0.5, best.x0 + pad + swatch, mid - 0.5, series_colour(i));
    text(c, best.x0 + 2 * pad + swatch, y, p.series[i].name, ink, s);
    y += th + pad;
  }
}

void draw_panel(RgbImage& image, const plot_panel& p, const panel_frame& f) {
  const canvas panel{image, f.cell}, inside{image, f.plot};
  const int s = f.scale, th = text_height(s), pad = 3 * s, tick = 3 * s;
  const int centre_x = (f.plot.x0 + f.plot.x1) / 2, centre_y = (f.plot.y0 + f.plot.y1) / 2;
  const auto centred = [&](std::string_view str, int scale) {
    return std::max(f.cell.x0 + pad, centre_x - text_width(str, scale) / 2);
  };
  // A title wider than the panel at the panel's scale is drawn smaller rather than cut off.
  const int title_s = s > 1 && text_width(p.title, s) > f.cell.x1 - f.cell.x0 - 2 * pad ? 1 : s;
  text(panel, centred(p.title, title_s), f.cell.y0 + 2 * pad + (th - text_height(title_s)) / 2, p.title, ink, title_s);
  text(panel, centred(p.x_label, s), f.cell.y1 - pad - th, p.x_label, ink, s);
  text(panel, f.cell.x0 + pad, centre_y - text_width(p.y_label, s) / 2, p.y_label, ink, s, true);
  if (!f.axes) {
    panel.outline(f.plot, ink);
    text(panel, centre_x - text_width("no data", s) / 2, centre_y - cap_height * s / 2, "no data", faint_ink, s);
    return;
  }
  const plot_axes& a = *f.axes;
  const auto y_labels = tick_labels(a.y_ticks, a.log_y), x_labels = tick_labels(a.x_ticks, false);
  for (std::size_t i = 0; i < a.y_ticks.size(); ++i) {
    const int y = static_cast<int>(std::lround(a.y_pixel(a.y_ticks[i])));
    inside.fill({f.plot.x0, y, f.plot.x1, y + 1}, grid);
    panel.fill({f.plot.x0 - 1 - tick, y, f.plot.x0 - 1, y + 1}, ink);
    text(panel, f.plot.x0 - 1 - tick - pad - text_width(y_labels[i], s), y - cap_height * s / 2, y_labels[i], ink, s);
  }
  for (std::size_t i = 0; i < a.x_ticks.size(); ++i) {
    const int x = static_cast<int>(std::lround(a.x_pixel(a.x_ticks[i])));
    inside.fill({x, f.plot.y0, x + 1, f.plot.y1}, grid);
    panel.fill({x, f.plot.y1 + 1, x + 1, f.plot.y1 + 1 + tick}, ink);
    text(panel, x - text_width(x_labels[i], s) / 2, f.plot.y1 + 1 + tick + pad, x_labels[i], ink, s);
  }
  // Far-off values are pulled in to ±1e300 px so the clipper never meets an infinity.
  const auto px = [&](double x) { return std::clamp(a.x_pixel(x), -1e300, 1e300); };
  const auto py = [&](double y) { return std::clamp(a.y_pixel(y), -1e300, 1e300); };
  for (std::size_t k = 0; k < p.series.size(); ++k) {
    const auto& series = p.series[k];
    const auto ok = [&](std::size_t i) { return i < series.x.size() && usable(p, series.x[i], series.y[i]); };
    for (std::size_t i = 0; i < series.x.size(); ++i) {
      if (!ok(i)) continue;
      if (i > 0 && ok(i - 1))
        line(inside, px(series.x[i - 1]), py(series.y[i - 1]), px(series.x[i]), py(series.y[i]), series_colour(k));
      else if (!ok(i + 1)) {
        const double cx = px(series.x[i]), cy = py(series.y[i]);
        if (f.plot.contains(static_cast<int>(std::lround(cx)), static_cast<int>(std::lround(cy)))) {
          const int x = static_cast<int>(std::lround(cx)), y = static_cast<int>(std::lround(cy)), r = 1 + s;
          inside.fill({x - r, y - r, x + r + 1, y + r + 1}, series_colour(k));
        }
      }
    }
  }
  panel.outline(f.plot, ink);
  legend(inside, p, f.plot, s);
}

}  // namespace

double plot_axes::x_pixel(double x) const { return left + (x - x_lo) / (x_hi - x_lo) * (width - 1); }

double plot_axes::y_pixel(double y) const {
  const auto axis = [&](double v) { return log_y ? std::log10(v) : v; };
  return top + (axis(y_hi) - axis(y)) / (axis(y_hi) - axis(y_lo)) * (height - 1);
}

std::optional<plot_axes> panel_axes(const std::vector<plot_panel>& panels, std::size_t index, const plot_layout& layout) {
  return lay_out(panels, index, layout).axes;
}

RgbImage render_plot(const std::vector<plot_panel>& panels, const plot_layout& layout) {
  MODELMIX_REQUIRE(!panels.empty(), "render_plot: no panels");
  std::vector<panel_frame> frames;
  for (std::size_t i = 0; i < panels.size(); ++i) frames.push_back(lay_out(panels, i, layout));
  RgbImage image;
  for (const auto& f : frames) image.width = std::max(image.width, f.cell.x1), image.height = std::max(image.height, f.cell.y1);
  image.pixels.resize(static_cast<std::size_t>(image.width) * static_cast<std::size_t>(image.height) * 3);
  for (std::size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = plot_background[i % 3];
  for (std::size_t i = 0; i < panels.size(); ++i) draw_panel(image, panels[i], frames[i]);
  return image;
}

std::vector<double> nice_ticks(double lo, double hi, int approx_count) {
  MODELMIX_REQUIRE(std::isfinite(hi - lo) && lo <= hi && approx_count >= 1 && approx_count <= 1000,
                   "nice_ticks: range ", lo, "..", hi, " with ", approx_count, " ticks");
  if (lo == hi) return {lo};
  // step = mantissa[m] × 10^e, chosen at least (hi - lo) / approx_count; a smaller one when that
  // would leave fewer than two ticks. Dividing by an exact 10^-e keeps 0.2 × 3 at 0.6, not
  // 0.6000000000000001.
  constexpr double mantissa[] = {1, 2, 5};
  const double raw = (hi - lo) / approx_count;
  int e = static_cast<int>(std::floor(std::log10(raw))), m = 0;
  while (mantissa[m] * pow10(e) < raw * (1 - 1e-9)) m == 2 ? (m = 0, ++e) : ++m;
  const auto value = [&](double k) { return e < 0 && e >= -22 ? k * mantissa[m] / pow10(-e) : k * mantissa[m] * pow10(e); };
  for (int tries = 0; tries < 6; ++tries) {
    const double step = value(1), first = std::ceil(lo / step - 1e-9), last = std::floor(hi / step + 1e-9);
    if (last - first >= 1) {
      std::vector<double> ticks;
      for (double k = first; k <= last && ticks.size() <= 2000; ++k) ticks.push_back(k == 0 ? 0.0 : value(k));
      return ticks;
    }
    m == 0 ? (m = 2, --e) : --m;
  }
  return {lo, hi};  // only for ranges near the limits of double
}

std::string format_tick(double value, double step) { return format_number(value, step, false); }

plot_rgb series_colour(std::size_t index) { return palette[index % std::size(palette)]; }

int text_width(std::string_view text, int scale) {
  return text.empty() ? 0 : (static_cast<int>(text.size()) * glyph_advance - 1) * scale;
}

int text_height(int scale) { return glyph_height * scale; }

void draw_text(RgbImage& image, int x, int y, std::string_view s, plot_rgb colour, int scale) {
  text(canvas{image, {0, 0, image.width, image.height}}, x, y, s, colour, scale);
}

}  // namespace modelmix_cardiac
