#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <variant>

#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/data/phantom.hpp"
#include "modelmix/data/slices.hpp"
#include "modelmix/method/trainer.hpp"
#include "support/random.hpp"

using namespace modelmix;

namespace {

method::trainer_options tiny_options(method::training_method m) {
  method::trainer_options o;
  o.method = m;
  o.network = {.in_channels = 1, .classes = 4, .width = 2, .depth = 2, .encoder_dropout = {0.1, 0.1}};
  o.batch_size = 2;
  return o;
}

// A [2, 8, 8] scribble map with every class present and unlabeled pixels in between.
Tensor<data::label_t> tiny_scribbles() {
  Tensor<data::label_t> s(Shape{2, 8, 8}, data::unlabeled_label);
  for (index_t n = 0; n < 2; ++n)
    for (index_t i = 0; i < 8; ++i) {
      s(n, 1, i) = 0;
      s(n, 3, i) = 1;
      s(n, 5, i) = data::label_t(2 + (i + n) % 2);
    }
  return s;
}

method::step_draws tiny_draws() {
  return {.betas = {0.3, 0.8}, .lambda = 0.35, .angle = 37, .mixed_layer = "encoder.block1.conv1", .dropout_seed = 5};
}

}  // namespace

TEST_CASE("the full ModelMix objective matches finite differences in both parents", "[method][gradcheck]") {
  auto o = tiny_options(method::training_method::modelmix);
  models::UNet<double> host(o.network), partner({.in_channels = 1, .classes = 4, .width = 2, .depth = 2,
                                                 .encoder_dropout = {0.1, 0.1}, .seed = 7});
  const Tensor<double> image = test::random_tensor<double>(Shape{2, 1, 8, 8}, 11);
  const Tensor<data::label_t> scribble = tiny_scribbles();
  std::vector<autograd::named_parameter<double>> checked;
  for (auto& [name, p] : layers::named_parameters(host))
    if (name == "encoder.block1.conv1.weight" || name == "encoder.block1.conv1.bias" || name == "head.weight")
      checked.push_back({"host." + name, p});
  for (auto& [name, p] : layers::named_parameters(partner))
    if (name == "encoder.block1.conv1.weight" || name == "encoder.block1.conv1.bias") checked.push_back({"partner." + name, p});

  auto fn = [&](Tape<double>& tape, const std::vector<Var<double>>&) {
    method::task_losses logged;
    return method::task_objective(tape, host, partner, image, scribble, tiny_draws(), o, logged);
  };
  auto result = autograd::gradcheck(fn, {}, checked, {.rtol = 1e-4, .atol = 1e-7});
  INFO(result.report);
  CHECK(result.ok);
  // Gradients really reached the partner (the mixed layer's second parent).
  double partner_norm = 0;
  for (double g : checked[3].parameter->grad.span()) partner_norm += g * g;
  CHECK(partner_norm > 1e-12);
}

Parameter<float>& parameter(models::UNet<float>& net, const std::string& name) {
  for (auto& [n, p] : layers::named_parameters(net))
    if (n == name) return *p;
  throw error("no parameter " + name);
}

// One backward pass of the virtual model's terms alone (the other weights 0), so whatever
// reaches a parameter comes from the mix. Returns the modelmix loss.
double backward_virtual_model_terms(method::trainer_options o, models::UNet<float>& host, models::UNet<float>& partner) {
  o.weights = {.supervised = 0, .mixup = 0, .mix_consistency = 0, .modelmix = 1, .invariance = 0};
  Tape<float> tape;
  method::task_losses logged;
  tape.backward(method::task_objective(tape, host, partner, test::random_tensor<float>(Shape{2, 1, 8, 8}, 4),
                                       tiny_scribbles(), tiny_draws(), o, logged));
  return logged.modelmix;
}

TEST_CASE("gradient policy decides which parents the virtual model trains", "[method]") {
  auto run = [](layers::gradient_policy policy) {
    auto o = tiny_options(method::training_method::modelmix);
    o.gradients = policy;
    models::UNet<float> host(o.network), partner({.width = 2, .depth = 2, .encoder_dropout = {}, .seed = 9});
    (void)backward_virtual_model_terms(o, host, partner);
    auto norm = [](const Parameter<float>& p) {
      double s = 0;
      for (float v : p.grad.span()) s += double(v) * v;
      return s;
    };
    return std::array<double, 3>{norm(parameter(host, "encoder.block1.conv1.weight")),
                                 norm(parameter(partner, "encoder.block1.conv1.weight")),
                                 norm(parameter(host, "head.weight"))};
  };
  const auto both = run(layers::gradient_policy::both);
  CHECK(both[0] > 0);
  CHECK(both[1] > 0);
  const auto none = run(layers::gradient_policy::none);
  CHECK(none[0] == 0.0);  // neither parent of the mixed layer learns from the virtual model
  CHECK(none[1] == 0.0);
  CHECK(none[2] > 0);  // the rest of the host still does
}

TEST_CASE("a detached virtual model (the original's deep copy) trains only the task's head", "[method]") {
  for (bool detached : {true, false}) {
    CAPTURE(detached);
    auto o = tiny_options(method::training_method::modelmix);
    o.detach_virtual_model = detached;
    models::UNet<float> host(o.network), partner({.width = 2, .depth = 2, .encoder_dropout = {}, .seed = 9});
    CHECK(backward_virtual_model_terms(o, host, partner) > 0);
    std::size_t trained = 0, layers_seen = 0;
    for (auto* net : {&host, &partner})
      for (auto& [name, p] : layers::named_parameters(*net)) {
        CAPTURE(name);
        const bool any = std::any_of(p->grad.span().begin(), p->grad.span().end(), [](float v) { return v != 0; });
        const bool head = net == &host && name.starts_with("head.");
        if (detached) CHECK(any == head);  // nothing but the host's head learns from the virtual model
        trained += any;
        ++layers_seen;
      }
    if (!detached) CHECK(trained > layers_seen / 2);  // attached: the encoder and decoder learn too
  }
}


namespace {
std::vector<method::task_setup> phantom_tasks(index_t volumes) {
  std::vector<method::task_setup> tasks;
  for (auto modality : {data::phantom_modality::cine, data::phantom_modality::lge}) {
    data::phantom_options o{.modality = modality, .width = 32, .height = 32, .min_slices = 3, .max_slices = 4, .seed = 3};
    method::task_setup setup{data::to_string(modality), {}, {}};
    for (index_t v = 0; v < volumes; ++v) {
      const auto c = data::make_phantom_case(o, v);
      for (auto& s : data::volume_slices(c.image, v == 0 ? &c.scribble : nullptr, nullptr, {.size = 32}, v))
        setup.slices.push_back(std::move(s));
    }
    tasks.push_back(std::move(setup));
  }
  return tasks;
}

std::vector<Tensor<float>> weights(method::Trainer& trainer) {
  std::vector<Tensor<float>> out;
  for (std::size_t t = 0; t < trainer.task_count(); ++t) {
    for (auto& [name, p] : layers::named_parameters(trainer.network(t))) out.push_back(p->value);
    layers::for_each_buffer(trainer.network(t), [&](const std::string&, Tensor<float>& b) { out.push_back(b); });
  }
  return out;
}

method::trainer_options small_run() {
  method::trainer_options o;
  o.network = {.width = 4, .depth = 3};
  o.batch_size = 4;
  o.seed = 123;
  return o;
}
}  // namespace

TEST_CASE("a seeded training run is reproducible bit for bit", "[method]") {
  method::Trainer a(phantom_tasks(2), small_run()), b(phantom_tasks(2), small_run());
  for (int i = 0; i < 3; ++i) {
    const auto ra = a.step(), rb = b.step();
    CHECK(ra.total == rb.total);
    CHECK(ra.mixed_layer == rb.mixed_layer);
  }
  const auto wa = weights(a), wb = weights(b);
  REQUIRE(wa.size() == wb.size());
  for (std::size_t i = 0; i < wa.size(); ++i) CHECK(wa[i].storage() == wb[i].storage());
}

namespace {
// Every tensor a checkpoint holds: the weights and BN buffers of every task, the optimizer's
// moments and step counts, the trainer's step.
io::tensor_archive full_state(method::Trainer& trainer, const std::filesystem::path& path) {
  trainer.save(path);
  return io::load_safetensors(path);
}

bool same_bits(const io::archive_tensor& a, const io::archive_tensor& b) {
  return a.index() == b.index() && std::visit(
                                       [&](const auto& ta) {
                                         const auto& tb = std::get<std::decay_t<decltype(ta)>>(b);
                                         return ta.shape() == tb.shape() && ta.storage() == tb.storage();
                                       },
                                       a);
}

// Everything a step reports: the losses depend on the batch (data order, augmentation) and on
// every draw (layer, angle, β, λ, partner, dropout), the weights on the learning rate.
void check_same_step(const method::step_report& a, const method::step_report& b) {
  CHECK(a.step == b.step);
  CHECK(a.mixed_layer == b.mixed_layer);
  CHECK(a.total == b.total);
  REQUIRE(a.tasks.size() == b.tasks.size());
  for (std::size_t t = 0; t < a.tasks.size(); ++t) {
    CAPTURE(t);
    CHECK(a.tasks[t].supervised == b.tasks[t].supervised);
    CHECK(a.tasks[t].mixup == b.tasks[t].mixup);
    CHECK(a.tasks[t].mix_consistency == b.tasks[t].mix_consistency);
    CHECK(a.tasks[t].modelmix == b.tasks[t].modelmix);
    CHECK(a.tasks[t].invariance == b.tasks[t].invariance);
    CHECK(a.tasks[t].total == b.tasks[t].total);
  }
}
}  // namespace

TEST_CASE("resume: an interrupted seeded run ends bit-identical to an uninterrupted one, for every method",
          "[method][resume]") {
  const auto dir = std::filesystem::temp_directory_path() / ("modelmix-resume-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (auto m : {method::training_method::pce, method::training_method::mixup, method::training_method::modelmix}) {
    CAPTURE(method::to_string(m));
    auto o = small_run();
    o.method = m;
    o.unlabeled_slices_in_pce = true;  // pce, too, walks the mixed scribbled/unlabeled stream
    // A schedule that changes every step: resuming at the wrong step changes the rate.
    o.schedule = optim::cosine_lr{.lr = 2e-3, .total_steps = 6, .min_lr = 1e-4};
    constexpr int interrupt_at = 3, total_steps = 6;  // several epochs of ~2 batches each

    method::Trainer straight(phantom_tasks(2), o);
    std::vector<method::step_report> expected;
    for (int i = 0; i < total_steps; ++i) expected.push_back(straight.step());
    {
      method::Trainer first(phantom_tasks(2), o);
      for (int i = 0; i < interrupt_at; ++i) (void)first.step();
      first.save(dir / "ckpt.safetensors");
    }  // the interrupted process ends here
    // The new process may even have trained a step of its own before loading: load replaces it all.
    method::Trainer resumed(phantom_tasks(2), o);
    (void)resumed.step();
    resumed.load(dir / "ckpt.safetensors");
    CHECK(resumed.steps_done() == interrupt_at);
    for (int i = interrupt_at; i < total_steps; ++i) {
      CAPTURE(i);
      check_same_step(resumed.step(), expected[std::size_t(i)]);
    }

    const auto ws = weights(straight), wr = weights(resumed);
    REQUIRE(ws.size() == wr.size());
    for (std::size_t i = 0; i < ws.size(); ++i) CHECK(ws[i].storage() == wr[i].storage());
    const io::tensor_archive a = full_state(straight, dir / "straight.safetensors");
    const io::tensor_archive b = full_state(resumed, dir / "resumed.safetensors");
    REQUIRE(a.tensors.size() == b.tensors.size());
    std::size_t optimizer_tensors = 0;
    for (const auto& [name, tensor] : a.tensors) {
      CAPTURE(name);
      REQUIRE(b.tensors.count(name) == 1);
      CHECK(same_bits(tensor, b.tensors.at(name)));
      optimizer_tensors += name.rfind("optim", 0) == 0 ? 1 : 0;
    }
    CHECK(optimizer_tensors > ws.size() / 2);  // the moments are in there, not only the weights
    CHECK(a.metadata == b.metadata);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("pce trains on the scribbled slices only, unless told otherwise", "[method]") {
  auto o = small_run();
  o.method = method::training_method::pce;
  auto scribbled_only = phantom_tasks(2);
  for (auto& task : scribbled_only)
    std::erase_if(task.slices, [](const data::slice_sample& x) { return !x.has_scribbles(); });
  method::Trainer all(phantom_tasks(2), o), only(std::move(scribbled_only), o);
  o.unlabeled_slices_in_pce = true;
  method::Trainer with_unlabeled(phantom_tasks(2), o);
  for (int i = 0; i < 3; ++i) {
    (void)all.step();
    (void)only.step();
    (void)with_unlabeled.step();
  }
  const auto wa = weights(all), wo = weights(only), wu = weights(with_unlabeled);
  bool differs = false;
  for (std::size_t i = 0; i < wa.size(); ++i) {
    CHECK(wa[i].storage() == wo[i].storage());  // the unlabeled slices were dropped
    differs = differs || wa[i].storage() != wu[i].storage();
  }
  CHECK(differs);  // kept, they change the batches

  auto unlabeled = phantom_tasks(2);
  std::erase_if(unlabeled[1].slices, [](const data::slice_sample& x) { return x.has_scribbles(); });
  o.unlabeled_slices_in_pce = false;
  CHECK_THROWS_WITH(method::Trainer(std::move(unlabeled), o), Catch::Contains("task 'lge' has no scribbled slices"));
}

TEST_CASE("trainer rejects bad configurations with clear errors", "[method]") {
  auto o = small_run();
  auto one = phantom_tasks(1);
  one.pop_back();
  CHECK_THROWS_WITH(method::Trainer(std::move(one), o), Catch::Contains("modelmix needs at least 2 tasks"));
  o.batch_size = 1;
  CHECK_THROWS_WITH(method::Trainer(phantom_tasks(1), o), Catch::Contains("batch size must be at least 2"));
  CHECK_THROWS_WITH(method::parse_training_method("mixmodel"), Catch::Contains("unknown method 'mixmodel'"));
  method::Trainer t(phantom_tasks(1), small_run());
  CHECK_THROWS_WITH(t.load("/nonexistent/ckpt.safetensors"), Catch::Contains("/nonexistent/ckpt.safetensors"));
}

TEST_CASE("shared_initialisation: one start for every task, or a draw per task", "[method]") {
  auto first_weight = [](method::Trainer& trainer, std::size_t t) {
    return layers::named_parameters(trainer.network(t)).front().second->value;
  };
  auto o = small_run();
  method::Trainer shared(phantom_tasks(2), o);
  o.shared_initialisation = false;
  method::Trainer own(phantom_tasks(2), o);
  CHECK(first_weight(shared, 0).storage() == first_weight(shared, 1).storage());
  CHECK(first_weight(own, 0).storage() != first_weight(own, 1).storage());
  CHECK(first_weight(own, 0).storage() == first_weight(shared, 0).storage());  // task 0 starts the same either way
}
