"""The fault_models study's presets (experiments/fault_models/): each composes to the fault model
and grid the study reads, and the matched partition presets lose messages at the loss rates
they claim (by the partition model's own law and by its own draws)."""

from __future__ import annotations

import math

import pytest
from hydra import compose, initialize_config_dir

from paxos_exp.app import CONFIG_DIR
from paxos_exp.app_config import job_config, run_spec
from paxos_exp.core.draws import SeededDraws
from paxos_exp.core.faults.partition import Partition, cut_sizes

INTENSITIES = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
LOSS_RATES = [0.1, 0.2, 0.3, 0.4, 0.5]

# preset -> (fault model, the swept intensity key, fixed settings of the model)
GRIDS = {
    "fault_models_omission": ("omission", "fail_prob", {}),
    "fault_models_crash_stop": ("crash_stop", "faults.crash_stop.crash_prob", {}),
    "fault_models_crash_recovery": ("crash_recovery", "faults.crash_recovery.crash_prob",
                                    {"down_rounds": 1, "amnesia": False}),
    "fault_models_partition": ("partition", "faults.partition.partition_prob",
                               {"symmetric": True}),
    "fault_models_link_loss": ("link_loss", "faults.link_loss.prob", {"rule": "leader_links"}),
}


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


def _floats(text: str) -> list[float]:
    return [float(v) for v in str(text).split(",")]


def _common(cfg) -> None:
    assert (cfg.trials, cfg.rounds, cfg.seed, cfg.engine.value) == (1000, 2, 0, "processes")
    assert cfg.protocol.name == "classic"


@pytest.mark.parametrize("preset", sorted(GRIDS))
def test_grid_presets_sweep_n_3_5_7_over_the_models_intensity(preset):
    model, key, fixed = GRIDS[preset]
    cfg = _compose([f"experiment={preset}"])
    _common(cfg)
    assert list(cfg.faults) == [model]
    for setting, value in fixed.items():
        assert cfg.faults[model][setting] == value
    params = cfg.hydra.sweeper.params
    assert [int(v) for v in params.nodes.split(",")] == [3, 5, 7]
    assert _floats(params[key]) == INTENSITIES
    if model != "omission":  # only omission reads fail_prob: the others leave it at 0
        assert cfg.fail_prob == 0.0
    # a job of the grid at its highest intensity passes the range checks
    job = _compose([f"experiment={preset}", "nodes=7", f"{key}=0.6"])
    run_spec(job_config(job))


def test_partition_preset_sweeps_both_shapes():
    cfg = _compose(["experiment=fault_models_partition"])
    shapes = str(cfg.hydra.sweeper.params["faults.partition.shape"]).split(",")
    assert shapes == ["minority", "isolated_leader"]


def _cut_fraction(nodes: int) -> float:
    """P(a given acceptor is across a minority cut from the leader | a cut), from the model's
    law of the cut's size: a side of k nodes holds the leader with probability k/N."""
    sizes = cut_sizes("minority", nodes)
    return sum(w * 2 * k * (nodes - k) / nodes for k, w in sizes) / (nodes - 1)


@pytest.mark.parametrize("nodes", [3, 5, 7])
def test_matched_partition_presets_lose_the_claimed_fraction_of_messages(nodes):
    preset = f"fault_models_partition_matched_n{nodes}"
    cfg = _compose([f"experiment={preset}"])
    _common(cfg)
    assert cfg.nodes == nodes and cfg.fail_prob == 0.0
    assert (cfg.faults.partition.shape, cfg.faults.partition.symmetric) == ("minority", True)
    probs = _floats(cfg.hydra.sweeper.params["faults.partition.partition_prob"])
    # By the law: partition_prob * c(N) is the loss rate the omission and link_loss grids run.
    assert [p * _cut_fraction(nodes) for p in probs] == pytest.approx(LOSS_RATES, abs=1e-12)
    # By the model's own draws: the fraction of leader-acceptor links it silences, over
    # seeded rounds, within 4 binomial standard errors of the claimed rate.
    samples = 4000
    for prob, loss in zip(probs, LOSS_RATES):
        model = Partition(nodes, prob, "minority", True, SeededDraws(7))
        cut = 0
        for trial in range(samples):
            model.begin_round(trial, 0)  # round 0: node 0 leads
            acceptor = 1 + trial % (nodes - 1)
            cut += model.silenced(trial, 0, 0, 0, acceptor)
        se = math.sqrt(loss * (1 - loss) / samples)
        assert abs(cut / samples - loss) < 4 * se, (prob, cut / samples, loss)
