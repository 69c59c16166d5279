// mixing::plan: built once, re-pointed each step, computes exactly what a view built for that
// step computes (values and both parents' gradients, bit for bit).
#include <catch2/catch.hpp>

#include "modelmix/mixing/plan.hpp"
#include "modelmix/models/unet.hpp"
#include "modelmix/ops/reduce.hpp"
#include "support/random.hpp"

using namespace modelmix;

namespace {
using Net = models::UNet<double>;

models::unet_options tiny(std::uint64_t seed) {
  return {.in_channels = 1, .classes = 3, .width = 2, .depth = 2, .encoder_dropout = {0.0, 0.0}, .seed = seed};
}

std::vector<Tensor<double>> gradients(Net& net) {
  std::vector<Tensor<double>> out;
  for (auto& [name, p] : layers::named_parameters(net)) out.push_back(p->grad);
  return out;
}
void zero_grad(Net& net) {
  for (auto& [name, p] : layers::named_parameters(net)) p->zero_grad();
}
bool same(const std::vector<Tensor<double>>& a, const std::vector<Tensor<double>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(a[i].storage() == std::vector<double>(b[i].span().begin(), b[i].span().end()))) return false;
  return true;
}
}  // namespace

TEST_CASE("a plan re-pointed each step equals a mix built for the step", "[mix]") {
  Net a(tiny(1)), b(tiny(2));
  const Tensor<double> x = test::random_tensor<double>(Shape{2, 1, 8, 8}, 5);
  const layers::mix_options options{};
  const std::vector<std::string> candidates = layers::mixable_paths(a);
  REQUIRE(candidates.size() > 3);
  mixing::plan<Net> plan({&a, &b}, candidates, options, {1.0, 0.0});

  const layers::forward_context<double> ctx{.training = true, .seed = 3, .update_running_stats = false};
  const std::vector<std::pair<double, std::string>> steps = {
      {0.3, candidates[0]}, {0.8, candidates[3]}, {0.55, candidates[1]}, {0.3, candidates[0]}};
  for (const auto& [lambda, path] : steps) {
    // Through the plan.
    zero_grad(a), zero_grad(b);
    plan.point(layers::two_way_coefficients(lambda, options), {path});
    CHECK(plan.mixed_paths() == std::vector<std::string>{path});
    Tape<double> t1;
    const Var<double> y1 = plan.forward(t1, t1.constant(x), ctx);
    t1.backward(ops::sum(y1));
    const auto ga = gradients(a), gb = gradients(b);
    // Through a view built for this step.
    zero_grad(a), zero_grad(b);
    auto view = layers::mix_networks(a, lambda, b, layers::select::path(path), options);
    Tape<double> t2;
    const Var<double> y2 = view.forward(t2, t2.constant(x), ctx);
    t2.backward(ops::sum(y2));
    CHECK(y1.value().storage() == std::vector<double>(y2.value().span().begin(), y2.value().span().end()));
    CHECK(same(ga, gradients(a)));
    CHECK(same(gb, gradients(b)));
    // The partner really took part: its gradient is not all zero.
    double norm = 0;
    for (const auto& g : gb)
      for (double v : g.span()) norm += v * v;
    CHECK(norm > 0);
  }
}

TEST_CASE("a plan refuses layers it was not built for and bad coefficients", "[mix]") {
  Net a(tiny(1)), b(tiny(2));
  const std::vector<std::string> candidates = layers::mixable_paths(a);
  CHECK_THROWS_WITH(mixing::plan<Net>({&a, &b}, {"encoder.nope"}, {}, {0.5, 0.5}),
                    Catch::Contains("\"encoder.nope\" is not a mixable layer"));
  mixing::plan<Net> plan({&a, &b}, {candidates[0]}, {}, {0.5, 0.5});
  CHECK_THROWS_WITH(plan.point({0.5, 0.5}, {candidates[1]}), Catch::Contains("is not one of the plan's candidate"));
  CHECK_THROWS_WITH(plan.point({0.7, 0.7}, {candidates[0]}), Catch::Contains("sum to 1"));
  CHECK_THROWS_WITH(plan.point({1.0}, {candidates[0]}), Catch::Contains("1 coefficients for 2 parents"));
  // Pointing at nothing runs the host unmixed.
  plan.point({0.5, 0.5}, {});
  CHECK(plan.mixed_paths().empty());
}
