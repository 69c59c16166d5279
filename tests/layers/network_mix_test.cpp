// Network-level mixing: selected layers only, against copies whose selected layers were
// interpolated by hand; selectors, N-way soups, gradients and errors.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "layer_test_support.hpp"

using namespace modelmix;
using namespace modelmix::layers;
using modelmix::test::bitwise_equal;
using modelmix::test::forward_value;
using modelmix::test::lerp;
using modelmix::test::max_abs_difference;
using modelmix::test::random_tensor;

namespace {

// encoder: conv → BN → ReLU → dropout → conv(bias-free) → Bias → ReLU, head: 1×1.
template <class T>
struct TinyNet {
  using value_type = T;
  Sequential<T, Conv2d<T>, BatchNorm2d<T>, ReLU<T>, Dropout<T>, Conv2d<T>, Bias<T>, ReLU<T>> encoder;
  Sequential<T, MaxPool2d<T>, Linear<T>> head;

  TinyNet(index_t width, init_rng&& rng)
      : encoder{Conv2d<T>(conv2d_options{.in_channels = 1, .out_channels = width, .padding = 1}, rng),
                BatchNorm2d<T>({width}),
                ReLU<T>{},
                Dropout<T>({.p = 0.2}),
                Conv2d<T>(conv2d_options{.in_channels = width, .out_channels = width, .padding = 1, .bias = false}, rng),
                Bias<T>({width}),
                ReLU<T>{}},
        head{MaxPool2d<T>{}, Linear<T>(linear_options{.in_features = width, .out_features = 2}, rng)} {
    test::randomize(encoder.template get<1>().weight, unsigned(rng() % 1000));
    test::randomize(encoder.template get<1>().bias, unsigned(rng() % 1000));
    test::randomize(encoder.template get<5>().bias, unsigned(rng() % 1000));
    name_dropout_streams(*this);
  }

  Var<T> forward(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) {
    return head.forward(tape, encoder.forward(tape, x, ctx), ctx);
  }
  template <class F>
  void visit_layers(const std::string& prefix, F&& f) {
    f(join_path(prefix, "encoder"), encoder);
    f(join_path(prefix, "head"), head);
  }
};

// Structure decided at run time: the type alone does not fix the leaves.
template <class T>
struct Stack {
  using value_type = T;
  std::vector<Conv2d<T>> blocks;
  Stack(int depth, std::uint64_t seed) {
    init_rng rng(seed);
    for (int i = 0; i < depth; ++i) blocks.emplace_back(conv2d_options{.in_channels = 2, .out_channels = 2, .padding = 1}, rng);
  }
  Var<T> forward(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) {
    Var<T> h = x;
    for (auto& b : blocks) h = b.forward(tape, h, ctx);
    return h;
  }
  template <class F>
  void visit_layers(const std::string& prefix, F&& f) {
    for (std::size_t i = 0; i < blocks.size(); ++i) f(join_path(prefix, "blocks." + std::to_string(i)), blocks[i]);
  }
};

bool in_encoder(const std::string& path) { return path.rfind("encoder.", 0) == 0; }

// Copy of `host` whose parameters under `path` are Σ c_i·θ_i of the nets' parameters there.
template <class Net>
Net with_interpolated_layer(const std::vector<Net*>& nets, const std::vector<double>& c, const std::string& path) {
  using T = typename Net::value_type;
  Net out = *nets[0];
  std::vector<Parameter<T>*> dst;
  for_each_parameter(out, [&](const std::string& name, Parameter<T>& p) {
    if (name.rfind(path + ".", 0) == 0) {
      p.value.zero();
      dst.push_back(&p);
    }
  });
  for (std::size_t i = 0; i < nets.size(); ++i) {
    std::size_t k = 0;
    for_each_parameter(*nets[i], [&](const std::string& name, Parameter<T>& p) {
      if (name.rfind(path + ".", 0) != 0) return;
      for (index_t j = 0; j < p.numel(); ++j) dst[k]->value[j] += T(c[i]) * p.value[j];
      ++k;
    });
  }
  return out;
}

}  // namespace

TEST_CASE("mixing one layer by path changes exactly that layer", "[layers][network-mix]") {
  TinyNet<double> a(4, init_rng(1)), b(4, init_rng(2));
  const Tensor<double> x = random_tensor<double>(Shape{2, 1, 6, 6}, 3);
  // Move the BN running statistics apart so the statistics policy is visible.
  (void)forward_value(a, x, {.training = true});
  (void)forward_value(b, random_tensor<double>(Shape{2, 1, 6, 6}, 4, 0.0, 3.0), {.training = true});

  for (const std::string path : {"encoder.0", "encoder.1", "encoder.4", "encoder.5", "head.1"}) {
    CAPTURE(path);
    auto mixed = mix_networks(a, 0.3, b, select::path(path));
    CHECK(mixed.mixed_paths() == std::vector<std::string>{path});
    TinyNet<double> manual = with_interpolated_layer<TinyNet<double>>({&a, &b}, {0.3, 0.7}, path);
    for (bool training : {false, true}) {
      const forward_context<double> ctx{.training = training, .seed = 5};
      CHECK(max_abs_difference(forward_value(mixed, x, ctx), forward_value(manual, x, ctx)) < 1e-12);
    }
  }
  // The host's own forward is untouched by the existence and the use of a view: the same bits
  // before the view, while it lives (after it ran), and after it is gone.
  const Tensor<double> host_before = forward_value(a, x);
  {
    auto mixed = mix_networks(a, 0.3, b, select::path("encoder.0"));
    const Tensor<double> mixed_out = forward_value(mixed, x);
    CHECK_FALSE(bitwise_equal(mixed_out, host_before));
    CHECK(bitwise_equal(forward_value(a, x), host_before));
    CHECK(bitwise_equal(forward_value(mixed, x), mixed_out));
  }
  CHECK(bitwise_equal(forward_value(a, x), host_before));
}

TEST_CASE("network-level mixing runs the same computation as the layer-level view", "[layers][network-mix]") {
  TinyNet<float> a(3, init_rng(1)), b(3, init_rng(2));
  const Tensor<float> x = random_tensor<float>(Shape{1, 1, 5, 5}, 3);
  auto mixed = mix_networks(a, 0.6, b, select::path("encoder.0"));
  auto view = a.encoder.get<0>().mix(0.6, b.encoder.get<0>());
  Tape<float> tape;
  const forward_context<float> ctx;
  const Var<float> h = view.forward(tape, tape.constant(x), ctx);
  const Var<float> rest = a.head.forward(
      tape,
      a.encoder.get<6>().forward(
          tape,
          a.encoder.get<5>().forward(
              tape, a.encoder.get<4>().forward(
                        tape, a.encoder.get<2>().forward(tape, a.encoder.get<1>().forward(tape, h, ctx), ctx), ctx),
              ctx),
          ctx),
      ctx);
  CHECK(bitwise_equal(forward_value(mixed, x), rest.value()));
}

TEST_CASE("predicate, all and N-way selections", "[layers][network-mix]") {
  TinyNet<double> a(3, init_rng(1)), b(3, init_rng(2)), c(3, init_rng(3));
  const Tensor<double> x = random_tensor<double>(Shape{2, 1, 4, 4}, 4);
  CHECK(mixable_paths(a) == std::vector<std::string>{"encoder.0", "encoder.1", "encoder.4", "encoder.5", "head.1"});

  auto encoder = mix_networks(a, 0.5, b, select::predicate(in_encoder));
  CHECK(encoder.mixed_paths() == std::vector<std::string>{"encoder.0", "encoder.1", "encoder.4", "encoder.5"});

  // A soup of three networks, every layer mixed: equals the network of interpolated parameters.
  auto soup = mix_networks<TinyNet<double>>({{a, 0.2}, {b, 0.3}, {c, 0.5}}, select::all());
  TinyNet<double> manual = a;
  for (const auto& path : mixable_paths(a)) {
    TinyNet<double> one = with_interpolated_layer<TinyNet<double>>({&a, &b, &c}, {0.2, 0.3, 0.5}, path);
    // graft that layer's parameters into `manual`
    std::vector<Parameter<double>*> src;
    for_each_parameter(one, [&](const std::string& name, Parameter<double>& p) {
      if (name.rfind(path + ".", 0) == 0) src.push_back(&p);
    });
    std::size_t k = 0;
    for_each_parameter(manual, [&](const std::string& name, Parameter<double>& p) {
      if (name.rfind(path + ".", 0) == 0) p.value = src[k++]->value;
    });
  }
  CHECK(soup.mixed_paths().size() == 5);
  CHECK(max_abs_difference(forward_value(soup, x, {.training = true}), forward_value(manual, x, {.training = true})) <
        1e-12);
}

TEST_CASE("random_one draws reproducibly by seed among the candidates", "[layers][network-mix][random]") {
  TinyNet<float> a(2, init_rng(1)), b(2, init_rng(2));
  std::set<std::string> seen;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    auto first = mix_networks(a, 0.5, b, select::random_one(in_encoder, seed));
    auto again = mix_networks(a, 0.5, b, select::random_one(in_encoder, seed));
    REQUIRE(first.mixed_paths().size() == 1);
    CHECK(first.mixed_paths() == again.mixed_paths());
    CHECK(in_encoder(first.mixed_paths()[0]));
    seen.insert(first.mixed_paths()[0]);
  }
  // conv and BN layers are both drawn (the original samples among both kinds)
  CHECK(seen == std::set<std::string>{"encoder.0", "encoder.1", "encoder.4", "encoder.5"});
  // mt19937_64 is fully specified, so the draw is the same on every platform
  CHECK(mix_networks(a, 0.5, b, select::random_one(in_encoder, 42)).mixed_paths()[0] ==
        std::vector<std::string>{"encoder.0", "encoder.1", "encoder.4", "encoder.5"}[std::mt19937_64(42)() % 4]);
}

TEST_CASE("gradients of a network-level mix reach both networks only at the mixed layer", "[layers][network-mix]") {
  TinyNet<double> a(3, init_rng(1)), b(3, init_rng(2));
  const Tensor<double> x = random_tensor<double>(Shape{2, 1, 4, 4}, 3);
  for (auto policy : {gradient_policy::both, gradient_policy::host_only, gradient_policy::none}) {
    CAPTURE(int(policy));
    for (auto* net : {&a, &b}) for_each_parameter(*net, [](const std::string&, Parameter<double>& p) { p.zero_grad(); });
    auto mixed = mix_networks(a, 0.4, b, select::path("encoder.4"), {.gradients = policy});
    Tape<double> tape;
    tape.backward(ops::sum(mixed.forward(tape, tape.constant(x), {.training = true, .seed = 1})));
    for_each_parameter(b, [&](const std::string& name, Parameter<double>& p) {
      CAPTURE(name);
      const bool expect = name == "encoder.4.weight" && policy == gradient_policy::both;
      CHECK((test::sum_abs(p.grad) > 0) == expect);
    });
    // the host's other layers learn as usual; its mixed layer only when the policy lets it
    CHECK(test::sum_abs(a.head.get<1>().weight.grad) > 0);
    CHECK(test::sum_abs(a.encoder.get<0>().weight.grad) > 0);
    CHECK((test::sum_abs(a.encoder.get<4>().weight.grad) > 0) == (policy != gradient_policy::none));
  }
}

TEST_CASE("network-level gradients match finite differences, learnable coefficients included",
          "[layers][network-mix][gradcheck]") {
  TinyNet<double> a(2, init_rng(1)), b(2, init_rng(2)), c(2, init_rng(3));
  const Tensor<double> x = random_tensor<double>(Shape{2, 1, 4, 4}, 4);
  auto mixed = mix_networks<TinyNet<double>>({{a, 0.2}, {b, 0.3}, {c, 0.5}}, select::predicate(in_encoder),
                                             {.learnable_coefficient = true});
  CHECK(test::parameter_names(mixed) == std::vector<std::string>{"coeff.0", "coeff.1", "coeff.2"});
  const auto r = check_layer_gradients(mixed, x, {.training = true, .seed = 3});
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("zip_visit pairs the leaves of two networks by path and checks their structure", "[layers][zip]") {
  TinyNet<float> a(2, init_rng(1)), b(2, init_rng(2));
  std::vector<std::string> paths;
  bool paired = true;
  zip_visit(a, b, [&](const std::string& path, auto& la, auto& lb) {
    paths.push_back(path);
    paired = paired && static_cast<const void*>(&la) != static_cast<const void*>(&lb);
  });
  CHECK(paired);
  CHECK(paths == std::vector<std::string>{"encoder.0", "encoder.1", "encoder.2", "encoder.3", "encoder.4", "encoder.5",
                                          "encoder.6", "head.0", "head.1"});
  CHECK(&a.encoder.get<4>() != &b.encoder.get<4>());

  Stack<double> two(2, 1), three(3, 2), other(2, 3);
  CHECK_THROWS_WITH(mix_networks(three, 0.5, two, select::all()),
                    Catch::Contains("zip_visit: network 1 has no layer at blocks.2"));
  CHECK_THROWS_WITH(mix_networks(two, 0.5, three, select::all()),
                    Catch::Contains("zip_visit: network 1 has 3 layers but network 0 has 2"));
  auto mixed = mix_networks(two, 0.25, other, select::path("blocks.1"));
  const Tensor<double> x = random_tensor<double>(Shape{1, 2, 4, 4}, 5);
  Stack<double> manual = with_interpolated_layer<Stack<double>>({&two, &other}, {0.25, 0.75}, "blocks.1");
  CHECK(max_abs_difference(forward_value(mixed, x), forward_value(manual, x)) < 1e-12);
}

TEST_CASE("network-level mixing errors name the layer", "[layers][network-mix][errors]") {
  TinyNet<float> a(4, init_rng(1)), b(4, init_rng(2)), narrow(3, init_rng(3));
  CHECK_THROWS_WITH(mix_networks(a, 0.5, narrow, select::path("encoder.0")),
                    Catch::Contains("mix: encoder.0.weight [4, 1, 3, 3] vs [3, 1, 3, 3]"));
  CHECK_THROWS_WITH(mix_networks(a, 0.5, b, select::path("encoder.2")),
                    Catch::Contains("select::path: \"encoder.2\" is not a mixable layer; mixable layers: encoder.0, "
                                    "encoder.1, encoder.4, encoder.5, head.1"));
  CHECK_THROWS_WITH(mix_networks(a, 0.5, b, select::predicate([](const std::string& p) { return p == "decoder"; })),
                    Catch::Contains("select::predicate: no mixable layer satisfies the predicate"));
  CHECK_THROWS_WITH(mix_networks(a, 0.5, b, select::random_one([](const std::string&) { return false; }, 1)),
                    Catch::Contains("select::random_one: no mixable layer"));
  CHECK_THROWS_WITH(mix_networks(a, 1.5, b, select::all()), Catch::Contains("mix: alpha = 1.5 is outside [0, 1]"));
  CHECK_THROWS_WITH((mix_networks<TinyNet<float>>({{a, 0.7}, {b, 0.7}}, select::all())),
                    Catch::Contains("sum to 1, got (0.7, 0.7)"));
}
