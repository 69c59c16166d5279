#pragma once
// Line plots (learning curves, interpolation curves) drawn straight into an RgbImage, so the
// program's figures need no plotting library; save them with write_png (montage.hpp).
//
//   layout:   panels row-major, min(columns, panels) per row, each panel_width × panel_height;
//             unused grid cells stay blank
//   ranges:   x from the data; y from y_min / y_max where given, else from the data with a 5 %
//             margin (in log10 space when log_y); a flat range is widened so it stays drawable
//   ticks:    1, 2, 5 × 10^k (decades on a log axis where three or more fit), as few as keep
//             the x labels apart; labels carry the digits the tick step needs, short exponents
//             ("1e6", not "1e+06"), and one style per axis
//   series:   colour i of an 8-colour palette (cycling), so one method keeps its colour across
//             panels; a non-finite point (or y ≤ 0 on a log axis) breaks the line, and a point
//             with no drawn neighbour gets a square marker so it is not lost
//   legend:   in the plot corner covering the fewest curve pixels
//   text:     built-in 5×7 font (plus 2 rows of descenders), printable ASCII; other bytes show
//             as '?'; scale 2 for panels at least 480 × 300, else 1; a title too wide for its
//             panel at scale 2 is drawn at scale 1
// A panel without finite points shows its frame and "no data". Pixels depend only on the input.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "montage.hpp"

namespace modelmix_cardiac {

struct plot_series {
  std::string name;          // legend text; unnamed series are left out of the legend
  std::vector<double> x, y;  // same length
};

struct plot_panel {
  std::string title, x_label, y_label;
  std::vector<plot_series> series;
  std::optional<double> y_min, y_max;  // e.g. 0..1 for Dice
  bool log_y = false;                  // loss curves read better on a log axis
};

struct plot_layout {
  int panel_width = 640, panel_height = 400;
  int columns = 2;
};

using plot_rgb = std::array<std::uint8_t, 3>;
inline constexpr plot_rgb plot_background{255, 255, 255};

// Where a panel's data lands: the plot area is the pixels [left, left + width) ×
// [top, top + height) of the whole figure; x_lo maps to column `left`, y_hi to row `top`.
struct plot_axes {
  int left = 0, top = 0, width = 0, height = 0;
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // data units, also when log_y
  bool log_y = false;
  std::vector<double> x_ticks, y_ticks;

  [[nodiscard]] double x_pixel(double x) const;
  [[nodiscard]] double y_pixel(double y) const;
};

// Panel `index` of `panels` as render_plot lays it out; nullopt when it has no finite point.
[[nodiscard]] std::optional<plot_axes> panel_axes(const std::vector<plot_panel>& panels, std::size_t index,
                                                  const plot_layout& layout = {});
[[nodiscard]] RgbImage render_plot(const std::vector<plot_panel>& panels, const plot_layout& layout = {});

// About `approx_count` multiples of 1, 2 or 5 × 10^k within [lo, hi]; {lo} when lo == hi.
[[nodiscard]] std::vector<double> nice_ticks(double lo, double hi, int approx_count);
// `value` to the precision that tick spacing `step` needs.
[[nodiscard]] std::string format_tick(double value, double step);

[[nodiscard]] plot_rgb series_colour(std::size_t index);
[[nodiscard]] int text_width(std::string_view text, int scale = 1);
[[nodiscard]] int text_height(int scale = 1);
// The text's box is text_width × text_height (descenders included) from (x, y); pixels outside
// the image are skipped.
void draw_text(RgbImage& image, int x, int y, std::string_view text, plot_rgb colour, int scale = 1);

}  // namespace modelmix_cardiac
