"""Each distillation loss against a value computed by hand, plus gradients and invariants."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rulekd.losses import (  # noqa: E402
    DistillationLoss,
    HintProjection,
    hint_loss,
    response_loss,
    rkd_angle_loss,
    rkd_distance_loss,
    similarity_preserving_loss,
)


def _kl(p, q):
    p, q = np.asarray(p, float), np.asarray(q, float)
    return float(np.sum(p * np.log(p / q)))


# -- response ------------------------------------------------------------------------------
def test_response_loss_binary_single_logit_matches_hand_value_with_t_squared():
    # Teacher logit 2*ln 3 at T=2 gives p = sigmoid(ln 3) = [1/4, 3/4]; student logit 0 gives [1/2, 1/2].
    s = torch.tensor([0.0])
    t = torch.tensor([2.0 * math.log(3.0)])
    expected = 4.0 * (0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5))
    assert float(response_loss(s, t, temperature=2.0)) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(4 * 0.1308120, rel=1e-5)


def test_response_loss_single_logit_equals_two_column_form():
    s1 = torch.tensor([[0.3], [-1.2]], dtype=torch.float64)
    t1 = torch.tensor([[2.0], [0.5]], dtype=torch.float64)
    s2 = torch.cat([torch.zeros_like(s1), s1], 1)
    t2 = torch.cat([torch.full_like(t1, 7.0), t1 + 7.0], 1)  # shift invariance of softmax
    assert float(response_loss(s1, t1, 3.0)) == pytest.approx(float(response_loss(s2, t2, 3.0)), rel=1e-9)


def test_response_loss_multiclass_matches_hand_value():
    p = [0.2, 0.3, 0.5]
    t = torch.log(torch.tensor([p]))
    s = torch.zeros(1, 3)
    expected = 0.2 * math.log(0.6) + 0.3 * math.log(0.9) + 0.5 * math.log(1.5)
    assert expected == pytest.approx(0.0689599, rel=1e-5)
    assert float(response_loss(s, t, temperature=1.0)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("T", [0.5, 1.0, 2.0, 5.0])
def test_response_loss_is_t_squared_times_kl_of_softened_distributions(T):
    rng = np.random.default_rng(0)
    s = rng.normal(size=(5, 3))
    t = rng.normal(size=(5, 3)) * 3

    def soft(z):
        e = np.exp(z / T - (z / T).max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    kl = np.mean([_kl(a, b) for a, b in zip(soft(t), soft(s))])
    got = float(response_loss(torch.tensor(s), torch.tensor(t), temperature=T))
    assert got == pytest.approx(T * T * kl, rel=1e-9)


def test_response_loss_weights_give_weighted_mean_of_rows():
    s = torch.tensor([[0.0], [0.0]])
    t = torch.tensor([[math.log(3.0)], [0.0]])  # second row: KL = 0
    full = float(response_loss(s[:1], t[:1], 1.0))
    got = float(response_loss(s, t, 1.0, weight=torch.tensor([3.0, 1.0])))
    assert got == pytest.approx(0.75 * full, rel=1e-6)


def test_response_loss_rejects_bad_temperature_and_shapes():
    with pytest.raises(ValueError, match="temperature"):
        response_loss(torch.zeros(2), torch.zeros(2), temperature=0.0)
    with pytest.raises(ValueError, match="do not match"):
        response_loss(torch.zeros(2, 3), torch.zeros(2, 2))


# -- hint ----------------------------------------------------------------------------------
def test_hint_loss_mse_and_cosine_hand_values():
    h = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    t = torch.tensor([[0.0, 2.0], [2.0, 2.0]])
    # mse rows: (1 + 4) / 2 = 2.5 and (1 + 1) / 2 = 1.0; cosine rows: 1 - 0 and 1 - 1.
    assert float(hint_loss(h, t)) == pytest.approx(1.75)
    assert float(hint_loss(h, t, kind="cosine")) == pytest.approx(0.5)


def test_hint_loss_goes_through_the_learned_projection():
    proj = HintProjection(2, 1)
    with torch.no_grad():
        proj.linear.weight.copy_(torch.tensor([[2.0, -1.0]]))
        proj.linear.bias.fill_(0.5)
    h = torch.tensor([[1.0, 1.0], [0.0, 2.0]])  # projected: 1.5 and -1.5
    t = torch.tensor([[1.0], [0.0]])
    assert float(hint_loss(h, t, proj).detach()) == pytest.approx((0.25 + 2.25) / 2)


def test_hint_projection_draws_from_its_generator_only():
    state = torch.get_rng_state()
    a = HintProjection(4, 3, generator=torch.Generator().manual_seed(1))
    b = HintProjection(4, 3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.linear.weight, b.linear.weight)
    assert torch.equal(state, torch.get_rng_state())


def test_hint_loss_rejects_mismatched_width():
    with pytest.raises(ValueError, match="projection"):
        hint_loss(torch.zeros(2, 3), torch.zeros(2, 4))


# -- relation ------------------------------------------------------------------------------
def test_rkd_distance_hand_value():
    s = torch.tensor([[0.0], [1.0], [3.0]])  # distances 1, 3, 2; mean 2 -> 0.5, 1.5, 1
    t = torch.tensor([[0.0], [2.0], [4.0]])  # distances 2, 4, 2; mean 8/3 -> 0.75, 1.5, 0.75
    # Huber(0.25) = 0.03125 for two pairs, both orders, over 9 ordered pairs.
    assert float(rkd_distance_loss(s, t)) == pytest.approx(4 * 0.03125 / 9, rel=1e-6)


def test_rkd_angle_hand_value():
    s = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # cosines at vertices: 0, 1/sqrt2, 1/sqrt2
    t = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])  # cosines at vertices: 1/sqrt2, 0, 1/sqrt2
    # Two vertices differ by 1/sqrt2 (Huber 0.25), each counted for (j, k) and (k, j); 27 triples.
    assert float(rkd_angle_loss(s, t)) == pytest.approx(4 * 0.25 / 27, rel=1e-6)


def test_similarity_preserving_hand_value():
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # normalised Gram rows [1, 0], [0, 1]
    t = torch.tensor([[1.0], [1.0]])  # normalised Gram rows [r, r], r = 1/sqrt2
    r = 1 / math.sqrt(2)
    expected = 2 * ((1 - r) ** 2 + r**2) / 4
    assert float(similarity_preserving_loss(s, t)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("fn", [rkd_distance_loss, rkd_angle_loss, similarity_preserving_loss])
def test_relation_losses_are_zero_for_identical_geometry(fn):
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    assert float(fn(x, x.clone())) == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.01, 100.0), seed=st.integers(0, 1000))
def test_relation_losses_ignore_the_teachers_scale(scale, seed):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(7, 4, generator=g, dtype=torch.float64)
    t = torch.randn(7, 3, generator=g, dtype=torch.float64)
    for fn in (rkd_distance_loss, rkd_angle_loss, similarity_preserving_loss):
        assert float(fn(s, t * scale)) == pytest.approx(float(fn(s, t)), rel=1e-7, abs=1e-12)


# -- gradients -----------------------------------------------------------------------------
def _double(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def test_gradients_match_finite_differences():
    t_logits = _double(4, 3, seed=1) * 2
    t_feat = _double(4, 2, seed=2)
    w = torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=torch.float64)
    proj = HintProjection(5, 2).double()
    checks = {
        "response": (lambda s: response_loss(s, t_logits, 3.0, weight=w), _double(4, 3, seed=3)),
        "response_binary": (lambda s: response_loss(s, t_logits[:, 0], 2.0), _double(4, seed=4)),
        "hint_mse": (lambda h: hint_loss(h, t_feat, proj), _double(4, 5, seed=5)),
        "hint_cosine": (lambda h: hint_loss(h, t_feat, proj, kind="cosine"), _double(4, 5, seed=6)),
        "distance": (lambda s: rkd_distance_loss(s, t_feat), _double(4, 5, seed=7)),
        "angle": (lambda s: rkd_angle_loss(s, t_feat), _double(4, 5, seed=8)),
        "similarity": (lambda s: similarity_preserving_loss(s, t_feat), _double(4, 5, seed=9)),
    }
    for name, (fn, x) in checks.items():
        x.requires_grad_(True)
        assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5), name


def test_distance_gradient_is_finite_with_duplicate_rows():
    s = torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0]], requires_grad=True)
    t = torch.tensor([[1.0], [2.0], [4.0]])
    (rkd_distance_loss(s, t) + rkd_angle_loss(s, t)).backward()
    assert torch.isfinite(s.grad).all()


def test_distances_are_normalised_by_the_mean_over_every_pair_identical_rows_included():
    """Park et al.'s mean is over all pairs i != j; pairs of identical rows were left out, so a batch with
    repeated rows (a tree teacher's leaves) was scaled by a larger mean, and a student equal to the teacher
    up to a 1e-4 jitter scored 0.06 where it should score about 0."""
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    teacher = base[torch.tensor([0, 0, 0, 1, 1, 2, 3, 3])]  # repeated rows, as leaves of a small tree
    student = teacher + 1e-4 * torch.randn(teacher.shape, generator=gen, dtype=torch.float64)
    assert float(rkd_distance_loss(student, teacher)) < 1e-6
    for scale in (0.5, 1.0, 1e3):  # and scale free
        assert float(rkd_distance_loss(scale * teacher, teacher)) < 1e-9
    # The hand value: distances over their mean over the 8 * 7 ordered pairs.
    d = torch.cdist(teacher, teacher)
    s = torch.cdist(student, student)
    expected = torch.nn.functional.smooth_l1_loss(s / (s.sum() / 56), d / (d.sum() / 56))
    assert float(rkd_distance_loss(student, teacher)) == pytest.approx(float(expected), abs=1e-9)


def test_response_loss_reads_a_teacher_probability_of_zero_or_one():
    """A teacher logit of -inf (log of a probability of 0) gave nan: 0 * log 0 was 0 * -inf."""
    s = torch.zeros(1, 3, dtype=torch.float64)
    t = torch.tensor([[0.0, -math.inf, 1.0]], dtype=torch.float64)
    p = np.array([1.0, 0.0, math.e]) / (1.0 + math.e)
    expected = float(np.sum(p[p > 0] * np.log(p[p > 0] * 3)))  # KL(p || uniform), 0 log 0 = 0
    assert float(response_loss(s, t, temperature=1.0)) == pytest.approx(expected, rel=1e-12)
    one = torch.tensor([[-math.inf, math.inf]], dtype=torch.float64)  # probability exactly 1 on class 1
    s2 = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    loss = response_loss(s2, one, temperature=2.0)
    assert float(loss) == pytest.approx(4.0 * math.log(2.0), rel=1e-12)  # T**2 * KL([0, 1] || [.5, .5])
    loss.backward()
    assert torch.isfinite(s2.grad).all()


# -- the combined loss ----------------------------------------------------------------------
def test_distillation_loss_normalises_feature_and_relation_terms_to_one_at_calibration():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(16, generator=g)
    hidden = torch.randn(16, 6, generator=g)
    feats = torch.randn(16, 3, generator=g) * 100.0  # a wild raw scale
    labels = torch.randint(0, 2, (16,), generator=g)
    teacher = torch.randn(16, 2, generator=g)
    loss = DistillationLoss(temperature=2.0, label_weight=0.5, response_weight=1.0, feature_weight=2.0,
                            relation_weight=3.0, projection=HintProjection(6, 3, generator=g))
    raw = loss.raw_terms(logits, hidden, hard_labels=labels, teacher_logits=teacher, teacher_features=feats)
    assert set(raw) == {"label", "response", "hint", "distance", "angle", "similarity"}
    loss.calibrate([raw])
    total, parts = loss.combine(raw)
    assert parts["feature"] == pytest.approx(2.0, rel=1e-6)
    assert parts["relation"] == pytest.approx(3.0, rel=1e-6)
    assert parts["label"] == pytest.approx(0.5 * float(raw["label"]), rel=1e-6)
    assert parts["response"] == pytest.approx(float(response_loss(logits, teacher, 2.0)), rel=1e-6)
    assert float(total.detach()) == pytest.approx(sum(parts.values()), rel=1e-6)


def test_distillation_loss_drops_a_term_with_zero_scale_and_refuses_no_term():
    loss = DistillationLoss(label_weight=0.0, response_weight=0.0, feature_weight=1.0)
    h = torch.ones(4, 2)
    raw = loss.raw_terms(torch.zeros(4), h, teacher_features=h.clone())
    loss.calibrate([raw])  # the hint is exactly 0 at calibration
    assert loss.scales["hint"] == 0.0
    with pytest.raises(ValueError, match="No loss term"):
        loss.combine(raw)
    with pytest.raises(ValueError, match="Unknown relation terms"):
        DistillationLoss(relation_terms=("distance", "volume"))


def test_combined_relation_terms_equal_the_separate_functions():
    g = torch.Generator().manual_seed(3)
    s = torch.randn(9, 4, generator=g, dtype=torch.float64)
    s[1] = s[0]  # a duplicate row
    t = torch.randn(9, 6, generator=g, dtype=torch.float64)
    loss = DistillationLoss(label_weight=0.0, response_weight=0.0, relation_weight=1.0)
    raw = loss.raw_terms(torch.zeros(9), s, teacher_features=t)
    assert float(raw["distance"]) == pytest.approx(float(rkd_distance_loss(s, t)), rel=1e-12)
    assert float(raw["angle"]) == pytest.approx(float(rkd_angle_loss(s, t)), rel=1e-12)
    assert float(raw["similarity"]) == pytest.approx(float(similarity_preserving_loss(s, t)), rel=1e-12)


def test_fused_angle_term_equals_the_function_for_nearly_coincident_rows():
    """Regression: rows 5e-7 apart counted as distinct but were divided by the clamped length 1e-6, so the
    fused term (0.1222) differed from rkd_angle_loss (0.1447)."""
    g = torch.Generator().manual_seed(0)
    s = torch.randn(6, 3, generator=g, dtype=torch.float64)
    s[1] = s[0] + 5e-7
    s.requires_grad_(True)
    t = torch.randn(6, 4, generator=g, dtype=torch.float64)
    loss = DistillationLoss(label_weight=0.0, response_weight=0.0, relation_weight=1.0,
                            relation_terms=("angle",))
    fused = loss.raw_terms(torch.zeros(6), s, teacher_features=t)["angle"]
    assert float(fused.detach()) == pytest.approx(float(rkd_angle_loss(s.detach(), t)), rel=1e-9)
    fused.backward()
    assert torch.isfinite(s.grad).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=math.inf), "temperature must be a finite number"),
    (dict(temperature=0.0), "temperature must be a finite number"),
    (dict(label_weight=-1.0), "label_weight must be a finite number >= 0"),
    (dict(relation_weight=math.nan), "relation_weight must be a finite number >= 0"),
    (dict(hint_kind="l1"), "hint_kind must be 'mse' or 'cosine'"),
    (dict(relation_batch_size=0), "relation_batch_size must be an int >= 3"),
])
def test_distillation_loss_checks_its_parameters(kwargs, message):
    """Regression: these were accepted (inf temperature gave NaN; relation_batch_size=0 turned the relation
    term off without a word)."""
    with pytest.raises(ValueError, match=message):
        DistillationLoss(**kwargs)


def test_response_loss_refuses_an_infinite_temperature():
    with pytest.raises(ValueError, match="finite number > 0"):
        response_loss(torch.zeros(2, 2), torch.zeros(2, 2), temperature=math.inf)


def test_rows_without_a_hard_label_are_left_out_of_the_label_term():
    logits = torch.tensor([0.0, 2.0, -1.0])
    loss = DistillationLoss(response_weight=0.0)
    only_first = loss.raw_terms(logits[:1], None, hard_labels=torch.tensor([1]))["label"]
    mixed = loss.raw_terms(logits, None, hard_labels=torch.tensor([1, -1, -1]))["label"]
    assert float(mixed) == pytest.approx(float(only_first)) == pytest.approx(math.log(2.0))
    assert "label" not in loss.raw_terms(logits, None, hard_labels=torch.tensor([-1, -1, -1]))
