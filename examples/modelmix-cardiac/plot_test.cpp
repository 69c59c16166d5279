// Line plots: ticks, labels, layout, where the curves land, gaps, markers, legend placement,
// the font, and the inputs that must be refused or survived.
#include "plot.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "modelmix/core/error.hpp"

using namespace modelmix_cardiac;

namespace {

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

plot_rgb pixel(const RgbImage& image, long x, long y) {
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) FAIL("pixel (" << x << ", " << y << ") is outside the image");
  const auto i = static_cast<std::size_t>(y * image.width + x) * 3;
  return {image.pixels[i], image.pixels[i + 1], image.pixels[i + 2]};
}

// How many pixels of `colour` lie in [x0, x1) × [y0, y1).
int count(const RgbImage& image, plot_rgb colour, long x0, long y0, long x1, long y1) {
  int n = 0;
  for (long y = y0; y < y1; ++y)
    for (long x = x0; x < x1; ++x) n += pixel(image, x, y) == colour;
  return n;
}

int count_not(const RgbImage& image, plot_rgb colour, long x0, long y0, long x1, long y1) {
  return static_cast<int>((x1 - x0) * (y1 - y0)) - count(image, colour, x0, y0, x1, y1);
}

long at_x(const plot_axes& a, double x) { return std::lround(a.x_pixel(x)); }
long at_y(const plot_axes& a, double y) { return std::lround(a.y_pixel(y)); }

plot_panel dice_panel(plot_series series) {
  plot_panel panel{"Dice", "step", "Dice", {std::move(series)}, 0.0, 1.0, false};
  return panel;
}

plot_series identity(int points) {
  plot_series s{"identity", {}, {}};
  for (int i = 0; i < points; ++i) s.x.push_back(i / double(points - 1)), s.y.push_back(i / double(points - 1));
  return s;
}

RgbImage blank(int width, int height) { return {width, height, std::vector<std::uint8_t>(std::size_t(width * height * 3), 255)}; }

}  // namespace

TEST_CASE("nice_ticks steps by 1, 2 or 5 x 10^k and covers the range", "[plot]") {
  const auto ticks = nice_ticks(0, 1, 5);
  REQUIRE(ticks.size() == 6);
  for (std::size_t i = 0; i < ticks.size(); ++i) CHECK(std::abs(ticks[i] - 0.2 * double(i)) < 1e-12);

  CHECK(nice_ticks(0, 1000, 5) == std::vector<double>{0, 200, 400, 600, 800, 1000});

  const std::vector<std::tuple<double, double, int>> ranges{{-3.7, 12.2, 4}, {0.013, 0.0171, 5}, {1e6, 3.3e6, 6}, {-1e-9, 0.0, 3}};
  for (const auto& [lo, hi, n] : ranges) {
    const auto t = nice_ticks(lo, hi, n);
    REQUIRE(t.size() >= 2);
    const double step = t[1] - t[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    CHECK((std::abs(mantissa - 1) < 1e-9 || std::abs(mantissa - 2) < 1e-9 || std::abs(mantissa - 5) < 1e-9));
    CHECK(t.front() >= lo - 1e-12 * step);
    CHECK(t.back() <= hi + 1e-12 * step);
    CHECK(t.front() - lo < step);  // no tick missing at either end
    CHECK(hi - t.back() < step);
    CHECK(t.size() <= std::size_t(2 * n + 1));
    for (std::size_t i = 1; i < t.size(); ++i) CHECK(std::abs(t[i] - t[i - 1] - step) < 1e-9 * step);
  }
}

TEST_CASE("nice_ticks gives at least two ticks where the first step choice would leave fewer", "[plot]") {
  // (hi - lo) / 2 rounds up to a step of 0.05 and no multiple of 0.05 lies inside.
  const auto t = nice_ticks(0.0505, 0.0906, 2);
  REQUIRE(t.size() >= 2);
  CHECK(t.front() >= 0.0505);
  CHECK(t.back() <= 0.0906);
}

TEST_CASE("nice_ticks: a degenerate range is one tick; a reversed or non-finite one is refused", "[plot]") {
  CHECK(nice_ticks(2.5, 2.5, 5) == std::vector<double>{2.5});
  CHECK_THROWS_AS(nice_ticks(1, 0, 5), modelmix::error);
  CHECK_THROWS_AS(nice_ticks(0, not_a_number, 5), modelmix::error);
  CHECK_THROWS_AS(nice_ticks(0, 1, 0), modelmix::error);
}

TEST_CASE("format_tick writes short labels with the digits the step needs", "[plot]") {
  CHECK(format_tick(0.6000000000000001, 0.2) == "0.6");
  CHECK(format_tick(1000, 200) == "1000");
  CHECK(format_tick(1e6, 2e5) == "1e6");
  CHECK(format_tick(1.5e-5, 5e-6) == "1.5e-5");
  CHECK(format_tick(1000002, 2) == "1000002");
  CHECK(format_tick(-0.0, 0.2) == "0");
  CHECK(format_tick(1e-17, 0.2) == "0");  // rounding noise at zero
}

TEST_CASE("render_plot lays panels out row-major, columns x panel size", "[plot]") {
  const plot_panel p = dice_panel(identity(3));
  const RgbImage three = render_plot({p, p, p}, {300, 200, 2});
  CHECK(three.width == 2 * 300);
  CHECK(three.height == 2 * 200);
  CHECK(three.pixels.size() == std::size_t(600 * 400 * 3));
  // The third panel sits at the start of the second row; the fourth cell stays blank.
  const auto third = panel_axes({p, p, p}, 2, {300, 200, 2});
  REQUIRE(third);
  CHECK(third->left < 300);
  CHECK(third->top > 200);
  CHECK(count_not(three, plot_background, 300, 200, 600, 400) == 0);
  // Fewer panels than columns: no empty columns.
  const RgbImage one = render_plot({p}, {300, 200, 2});
  CHECK(one.width == 300);
  CHECK(one.height == 200);
}

TEST_CASE("render_plot draws a series where panel_axes maps it, and nothing far from it", "[plot]") {
  const std::vector<plot_panel> panels{dice_panel(identity(11))};
  const RgbImage image = render_plot(panels);
  const auto a = panel_axes(panels, 0);
  REQUIRE(a);
  CHECK(a->y_lo == 0);  // the fixed range, no margin
  CHECK(a->y_hi == 1);
  CHECK(at_y(*a, 1) == a->top);
  CHECK(at_y(*a, 0) == a->top + a->height - 1);
  CHECK(at_x(*a, 0) == a->left);  // x from the data, no margin
  CHECK(at_x(*a, 1) == a->left + a->width - 1);
  const plot_rgb colour = series_colour(0);
  for (double t : {0.1, 0.3, 0.5, 0.7, 0.9}) CHECK(pixel(image, at_x(*a, t), at_y(*a, t)) == colour);  // vertices
  for (double t : {0.25, 0.55}) CHECK(count(image, colour, at_x(*a, t) - 1, at_y(*a, t) - 1, at_x(*a, t) + 2, at_y(*a, t) + 2) > 0);
  CHECK(pixel(image, at_x(*a, 0.9), at_y(*a, 0.1)) == plot_background);
  CHECK(pixel(image, at_x(*a, 0.1), at_y(*a, 0.9)) == plot_background);
  CHECK(count(image, colour, at_x(*a, 0.8) - 10, at_y(*a, 0.3) - 10, at_x(*a, 0.8) + 10, at_y(*a, 0.3) + 10) == 0);
}

TEST_CASE("render_plot refuses an empty panel list", "[plot]") {
  CHECK_THROWS_AS(render_plot({}), modelmix::error);
}

TEST_CASE("a series with x and y of different lengths is refused, naming it", "[plot]") {
  plot_panel p = dice_panel(identity(3));
  p.series.push_back({"val dice", {0, 1, 2}, {0.1, 0.2, 0.3, 0.4}});
  CHECK_THROWS_AS(render_plot({p}), modelmix::error);
  CHECK_THROWS_WITH(render_plot({p}), Catch::Contains("\"val dice\"") && Catch::Contains("3 x values but 4 y values"));
}

TEST_CASE("a non-finite y breaks the line", "[plot]") {
  plot_series s{"with gap", {}, {}};
  for (int i = 0; i <= 10; ++i) s.x.push_back(i), s.y.push_back(i == 5 ? not_a_number : i / 10.0);
  const std::vector<plot_panel> panels{dice_panel(s)};
  const RgbImage image = render_plot(panels);
  const auto a = panel_axes(panels, 0);
  REQUIRE(a);
  const plot_rgb colour = series_colour(0);
  // The whole band between the neighbours of the gap, well clear of their 2 px brushes.
  CHECK(count(image, colour, at_x(*a, 4.2), a->top, at_x(*a, 5.8), a->top + a->height) == 0);
  CHECK(pixel(image, at_x(*a, 3), at_y(*a, 0.3)) == colour);  // the rest is drawn
  CHECK(pixel(image, at_x(*a, 7), at_y(*a, 0.7)) == colour);
}

TEST_CASE("a point with no drawn neighbour gets a visible marker", "[plot]") {
  const std::vector<plot_panel> panels{{"one", "x", "y", {{"only", {not_a_number, 3, 4}, {1, 2, not_a_number}}}, {}, {}, false}};
  const RgbImage image = render_plot(panels);
  const auto a = panel_axes(panels, 0);
  REQUIRE(a);
  CHECK(a->x_lo < 3);  // a single x is widened to a drawable range
  CHECK(a->x_hi > 3);
  const long x = at_x(*a, 3), y = at_y(*a, 2);
  CHECK(count(image, series_colour(0), x - 2, y - 2, x + 3, y + 3) == 25);
}

TEST_CASE("a panel without finite points shows its frame and a note, not an error", "[plot]") {
  const std::vector<plot_panel> panels{{"empty", "x", "y", {{"nan", {1, 2}, {not_a_number, not_a_number}}}, {}, {}, false},
                                       {"no series", "x", "y", {}, 0.0, 1.0, false}};
  CHECK_FALSE(panel_axes(panels, 0));
  CHECK_FALSE(panel_axes(panels, 1));
  const RgbImage image = render_plot(panels, {400, 300, 2});
  for (int k = 0; k < 2; ++k) {
    // The note near the middle of the panel; nothing else is drawn there.
    const long cx = 400 * k + 200, cy = 150;
    CHECK(count_not(image, plot_background, cx - 60, cy - 15, cx + 60, cy + 15) > 20);
  }
}

TEST_CASE("a flat series gets a range around its value", "[plot]") {
  for (double v : {0.5, 0.0, -3e8}) {
    const std::vector<plot_panel> panels{{"flat", "x", "y", {{"c", {0, 1, 2}, {v, v, v}}}, {}, {}, false}};
    const auto a = panel_axes(panels, 0);
    REQUIRE(a);
    CHECK(a->y_lo < v);
    CHECK(a->y_hi > v);
    CHECK(a->y_hi - a->y_lo <= std::max(2.0, 0.5 * std::abs(v)));
    CHECK(a->y_ticks.size() >= 2);
  }
}

TEST_CASE("a log axis drops non-positive values and spaces decades evenly", "[plot]") {
  const std::vector<plot_panel> panels{{"loss", "step", "loss", {{"l", {0, 1, 2, 3, 4}, {100, 10, 1, 0, -5}}}, {}, {}, true}};
  const auto a = panel_axes(panels, 0);
  REQUIRE(a);
  CHECK(a->y_lo > 0);
  CHECK(a->y_lo < 1);
  CHECK(a->y_hi > 100);
  CHECK(a->x_hi == 2);  // the points at x = 3, 4 are not drawable
  CHECK(std::abs(a->y_pixel(10) - (a->y_pixel(1) + a->y_pixel(100)) / 2) < 1e-6);
  CHECK(a->y_ticks == std::vector<double>{1, 10, 100});
  CHECK_NOTHROW(render_plot(panels));
}

TEST_CASE("an impossible fixed range is refused", "[plot]") {
  plot_panel p = dice_panel(identity(3));
  p.y_min = 1.0, p.y_max = 0.5;
  CHECK_THROWS_AS(render_plot({p}), modelmix::error);
  p.y_min = 0.0, p.y_max = 1.0, p.log_y = true;  // 0 on a log axis
  CHECK_THROWS_AS(render_plot({p}), modelmix::error);
}

TEST_CASE("the legend goes to a corner away from the curves", "[plot]") {
  // A line along the top: a legend in a top corner would cover its ends.
  const std::vector<plot_panel> panels{dice_panel({"high", {0, 1}, {0.95, 0.95}})};
  const RgbImage image = render_plot(panels);
  const auto a = panel_axes(panels, 0);
  REQUIRE(a);
  for (int i = 0; i <= 20; ++i) CHECK(pixel(image, at_x(*a, i / 20.0), at_y(*a, 0.95)) == series_colour(0));
  // ...and it is drawn: the legend's swatch adds colour below the line.
  CHECK(count(image, series_colour(0), a->left, at_y(*a, 0.5), a->left + a->width, a->top + a->height) > 0);
}

TEST_CASE("values far outside a fixed range are clipped, not lost or crashing", "[plot]") {
  const std::vector<plot_panel> panels{dice_panel({"wild", {0, 1, 2}, {0.5, 1e308, -1e308}})};
  const RgbImage image = render_plot(panels);
  const auto a = panel_axes(panels, 0);
  REQUIRE(a);
  // The first segment leaves the plot almost straight up from (0, 0.5).
  CHECK(count(image, series_colour(0), a->left, a->top, a->left + 4, at_y(*a, 0.5)) > (at_y(*a, 0.5) - a->top) / 2);
}

TEST_CASE("a title too wide for its panel is drawn smaller, whole, not cut at the edge", "[plot]") {
  // The horizontal extent of the ink in the title rows of a 640 × 400 panel (scale 2), right of
  // x = 80 (the top y tick label reaches into these rows further left).
  const auto title_extent = [](const std::string& title) {
    plot_panel p = dice_panel(identity(5));
    p.title = title;
    p.series[0].name.clear();  // no legend in the top corner
    const RgbImage image = render_plot({p}, {640, 400, 1});
    long lo = image.width, hi = -1;
    for (long y = 0; y < 2 * 6 + text_height(2); ++y)  // the title rows: 2 pads of 3 · scale, one scale-2 line
      for (long x = 80; x < image.width; ++x)
        if (pixel(image, x, y) != plot_background) lo = std::min(lo, x), hi = std::max(hi, x);
    return std::pair{lo, hi};
  };
  const std::string wide(60, 'W');  // 720 pixels at scale 2, 360 at scale 1
  const auto [wide_lo, wide_hi] = title_extent(wide);
  CHECK(wide_lo > 100);  // whole and centred, not cut at either edge
  CHECK(wide_hi < 600);
  CHECK(wide_hi - wide_lo < text_width(wide, 1));
  const auto [short_lo, short_hi] = title_extent("Dice");  // fits: keeps the panel's scale
  CHECK(short_hi - short_lo >= text_width("Dice", 2) - 4);
}

TEST_CASE("every printable character draws inside its box, and no two look alike", "[plot][font]") {
  std::set<std::string> seen;  // the glyphs' pixels (a string: GCC 12 misreads memcmp bounds of vector<uint8_t> keys)
  for (char c = 33; c <= 126; ++c) {
    RgbImage image = blank(20, 20);
    draw_text(image, 2, 3, std::string(1, c), {0, 0, 0}, 1);
    const int inside = count_not(image, plot_background, 2, 3, 2 + text_width(std::string(1, c)), 3 + text_height());
    CHECK(inside > 0);
    CHECK(count_not(image, plot_background, 0, 0, 20, 20) == inside);
    seen.insert(std::string(image.pixels.begin(), image.pixels.end()));
  }
  CHECK(seen.size() == 94);
}

TEST_CASE("text: different strings differ, scale multiplies, unknown bytes show as '?'", "[plot][font]") {
  const auto render = [](const std::string& s, int scale) {
    RgbImage image = blank(120, 30);
    draw_text(image, 1, 1, s, {0, 0, 0}, scale);
    return image;
  };
  CHECK(render("loss", 1).pixels != render("dice", 1).pixels);
  CHECK(count_not(render("Dice 0.5", 2), plot_background, 0, 0, 120, 30) ==
        4 * count_not(render("Dice 0.5", 1), plot_background, 0, 0, 120, 30));
  CHECK(render("\x01", 1).pixels == render("?", 1).pixels);
  CHECK(text_width("abc", 2) == 2 * text_width("abc", 1));
}

TEST_CASE("series colours are distinct, visible and cycle", "[plot]") {
  std::set<plot_rgb> colours;
  for (std::size_t i = 0; i < 8; ++i) colours.insert(series_colour(i));
  CHECK(colours.size() == 8);
  CHECK(colours.count(plot_background) == 0);
  CHECK(series_colour(8) == series_colour(0));
}

TEST_CASE("ranges at the limits of double are refused or drawn, never a hang or a crash", "[plot]") {
  CHECK(nice_ticks(0, 1e-320, 5).size() >= 2);  // denormal steps
  CHECK(nice_ticks(1e300, 1.0000000000001e300, 5).size() >= 2);
  CHECK_THROWS_AS(nice_ticks(-1e308, 1e308, 5), modelmix::error);  // the width overflows
  for (const auto& y : {std::vector<double>{1e-310, 2e-310, 3e-310}, {-1e300, 0, 1e300}, {1e300, 1e300, 1e300}}) {
    const std::vector<plot_panel> panels{{"extreme", "x", "y", {{"v", {0, 1, 2}, y}}, {}, {}, false}};
    const RgbImage image = render_plot(panels);
    const auto a = panel_axes(panels, 0);
    REQUIRE(a);
    CHECK(a->y_ticks.size() >= 2);
    CHECK(count(image, series_colour(0), a->left, a->top, a->left + a->width, a->top + a->height) > 0);
  }
}
