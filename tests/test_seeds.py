import numpy as np
import pytest
from scipy import stats

from vs_sim.seeds import AddressedRng, derive_rng, derive_seed, derive_uniform


def test_derived_generators_are_addressed_not_shared() -> None:
    a = derive_rng(1, "conv-1", 3, "choice").random(3)
    b = derive_rng(1, "conv-1", 3, "choice").random(3)
    assert (a == b).all()
    assert derive_seed(1, "conv-1", 3, "choice") != derive_seed(1, "conv-1", 4, "choice")
    assert derive_seed(1, "x") != derive_seed(2, "x")


def test_derived_seed_is_pinned() -> None:
    # pinned: a change here would silently change the draws of every stored run
    assert derive_seed(7, "conv", 2, "choice") == 3302892713934529593


def test_uniform_draws_are_pinned_and_addressed() -> None:
    # pinned: a change here would silently change every stored run's choices and speakers
    assert derive_uniform(7, "conv", 2, "choice") == 0.6399167476372775
    assert derive_uniform(7, "conv", 2, "choice") != derive_uniform(7, "conv", 3, "choice")
    assert derive_uniform(7, "conv", 2, "choice") != derive_uniform(8, "conv", 2, "choice")


def test_uniform_draws_look_uniform() -> None:
    draws = np.array([derive_uniform(1, "c", i, "choice") for i in range(20_000)])
    assert ((draws >= 0) & (draws < 1)).all()
    counts, _ = np.histogram(draws, bins=20, range=(0.0, 1.0))
    assert stats.chisquare(counts).pvalue > 1e-4
    assert len(set(draws.tolist())) == len(draws)


def test_addressed_rng_streams() -> None:
    rng = AddressedRng(3, "conv", 5, "schedule")
    first, second = rng.random(), rng.random()
    assert first == derive_uniform(3, "conv", 5, "schedule")
    assert second != first
    again = AddressedRng(3, "conv", 5, "schedule")
    assert [again.random(), again.random()] == [first, second]
    # every other Generator method is derive_rng's, built on first use
    numpy_side = derive_rng(3, "conv", 5, "schedule")
    assert int(rng.integers(100)) == int(numpy_side.integers(100))
    assert (rng.random(3) == numpy_side.random(3)).all()
    assert rng.choice(["a", "b", "c"]) in {"a", "b", "c"}
    assert repr(rng) == "AddressedRng(3, 'conv', 5, 'schedule')"
    with pytest.raises(AttributeError):
        rng.no_such_method  # noqa: B018
