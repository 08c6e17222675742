"""Composition of every preset, and every validation error, through Hydra's Compose API."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from paxos_exp.app import CONFIG_DIR
from paxos_exp.app_config import job_config, job_key, run_spec
from paxos_exp.core.errors import ConfigError

PRESETS = sorted(path.stem for path in (Path(CONFIG_DIR) / "experiment").glob("*.yaml"))
LAUNCHERS = sorted(path.stem for path in (Path(CONFIG_DIR) / "hydra" / "launcher").glob("*.yaml"))


def _compose(overrides: list[str], hydra: bool = False):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=hydra)


def test_presets_and_launchers_are_found():
    assert {"quick", "decision_vs_failure", "scaling"} <= set(PRESETS)
    assert {"paxos_joblib", "paxos_submitit_local", "paxos_submitit_slurm", "paxos_ray"} <= set(LAUNCHERS)


def test_defaults_compose_and_pass_range_checks():
    cfg = _compose([])
    run_config, options = run_spec(job_config(cfg))
    assert (run_config.nodes, run_config.fail_prob, run_config.rounds) == (5, 0.1, 3)
    assert options.engine == "processes" and options.start_method == "fork"


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_as_a_multirun_with_a_grid(preset):
    text = (Path(CONFIG_DIR) / "experiment" / f"{preset}.yaml").read_text()
    optuna = "hydra/sweeper=optuna" in text  # a study, not a grid: its sweeper is chosen on the CLI
    cfg = _compose([f"experiment={preset}", *(["hydra/sweeper=optuna"] if optuna else [])],
                   hydra=True)
    assert str(cfg.hydra.mode) == "RunMode.MULTIRUN"
    assert cfg.name == (f"{preset}_n{cfg.nodes}" if optuna else preset)
    assert cfg.hydra.sweeper.params, "a preset sweeps something"
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper" if optuna else "PaxosSweeper")
    run_spec(job_config(cfg))
    first_line = (Path(CONFIG_DIR) / "experiment" / f"{preset}.yaml").read_text().splitlines()[0]
    assert first_line == "# @package _global_"
    assert f"experiment={preset}" in (Path(CONFIG_DIR) / "experiment" / f"{preset}.yaml").read_text()


def test_decision_vs_failure_grid_is_the_report_sweep():
    cfg = _compose(["experiment=decision_vs_failure"], hydra=True)
    params = cfg.hydra.sweeper.params
    assert [int(v) for v in params.nodes.split(",")] == [3, 4, 5, 7, 9]
    probabilities = [float(v) for v in params.fail_prob.split(",")]
    assert probabilities == pytest.approx([round(0.05 * k, 2) for k in range(13)])
    assert [int(v) for v in params.rounds.split(",")] == [1, 3, 5]
    assert cfg.trials == 200


PLUGIN_OF = {
    "paxos_joblib": "hydra_plugins.hydra_joblib_launcher",
    "paxos_submitit_local": "hydra_plugins.hydra_submitit_launcher",
    "paxos_submitit_slurm": "hydra_plugins.hydra_submitit_launcher",
    "paxos_ray": "hydra_plugins.hydra_ray_launcher",
}


@pytest.mark.parametrize("launcher", LAUNCHERS)
def test_every_launcher_preset_composes(launcher):
    if launcher == "paxos_ray":  # an optional extra: pip install -e '.[ray]'
        pytest.importorskip(PLUGIN_OF[launcher])
    cfg = _compose([f"hydra/launcher={launcher}"], hydra=True)
    assert "_target_" in cfg.hydra.launcher


@pytest.mark.parametrize(
    "override, key",
    [("nodes=abc", "nodes"), ("rounds=1.5", "rounds"), ("runtime.start_method=forky", "start_method"),
     ("engine=gpu", "engine"), ("trace=maybe", "trace")],
)
def test_wrong_types_fail_at_composition(override, key):
    with pytest.raises((ConfigCompositionException, ValidationError)) as info:
        _compose([override])
    assert key in str(info.value) or key in str(info.value.__cause__)


def test_unknown_key_fails_at_composition():
    with pytest.raises(ConfigCompositionException) as info:
        _compose(["nodez=3"])
    assert "nodez" in str(info.value)


@pytest.mark.parametrize(
    "override, key",
    [("fail_prob=1.5", "fail_prob"), ("fail_prob=-0.1", "fail_prob"), ("rounds=-1", "rounds"),
     ("trials=0", "trials"), ("nodes=0", "nodes"), ("seed=-3", "seed"),
     ("initial_values=012", "initial_values"), ("protocol=flexible protocol.join_quorum=9", "join_quorum"),
     ("runtime.receive_timeout=0", "receive_timeout")],
)
def test_out_of_range_values_raise_config_error_naming_the_key(override, key):
    cfg = _compose(override.split())
    with pytest.raises(ConfigError) as info:
        run_spec(job_config(cfg))
    assert key in str(info.value)


def test_job_key_is_stable_and_ignores_bookkeeping_and_float_noise():
    base = job_config(_compose(["fail_prob=0.15"]))
    noisy = job_config(_compose(["fail_prob=0.15000000000000002", "name=other", "force=true"]))
    assert job_key(base) == job_key(noisy)
    assert job_key(base) != job_key(job_config(_compose(["fail_prob=0.15", "seed=1"])))
    assert job_key(base) != job_key(job_config(_compose(["fail_prob=0.15", "runtime=spawn"])))


@pytest.mark.parametrize("args,expected", [
    (["protocol.join_quorum=2"], "the protocol classic has no setting join_quorum; it has no "
     "settings; join_quorum belongs to protocol=flexible"),
    (["protocol=flexible", "protocol.join_quorm=2"], "the protocol flexible has no setting "
     "join_quorm; its settings: join_quorum, vote_quorum, allow_unsafe"),
    (["faults=crash_stop", "faults.max_crashed=2"], "faults.max_crashed: a fault model's "
     "settings are written faults.NAME.KEY: faults.crash_stop.max_crashed=2"),
    (["faults.partition.partition_prob=0.5"], "partition is not one of this job's fault "
     "models (omission); choose it with faults=partition, or add it to omission with "
     "faults=[omission,partition]"),
    # Hydra's append would add the model to the job; it is refused, before any process.
    (["+faults.crash_stop.crash_prob=0.3"], "faults.crash_stop.crash_prob: crash_stop is not "
     "one of this job's fault models (omission); choose it with faults=crash_stop"),
])
def test_a_setting_the_chosen_protocol_lacks_is_one_line_naming_who_has_it(tmp_path, args, expected):
    from app_helpers import run_paxos_exp

    done = run_paxos_exp([*args, "engine=inprocess"], tmp_path)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "+protocol" not in lines[0]  # not Hydra's advice to append the key
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("result.json"))


@pytest.mark.parametrize("group", ["protocol", "faults"])
def test_every_plugin_is_one_module_plus_one_yaml_that_extends_its_schema(group):
    """A plug-in is selectable exactly when it has both; the YAML writes no default of its own
    (they live once, in the module's settings dataclass)."""
    import dataclasses

    import yaml

    from paxos_exp.core.faults import FAULTS
    from paxos_exp.core.protocols import PROTOCOLS

    registry = {"protocol": PROTOCOLS, "faults": FAULTS}[group]
    files = {path.stem: path for path in (Path(CONFIG_DIR) / group).glob("*.yaml")}
    assert set(files) == set(registry.names())
    for name, path in files.items():
        text = yaml.safe_load(path.read_text())
        # A fault model nests under its name, so that several compose (faults=[a,b]).
        package = name if group == "faults" else "_here_"
        assert text == {"defaults": [f"/_schema/{group}/{name}@{package}", "_self_"]}, path
        composed = _compose([f"{group}={name}"])[group]
        if group == "faults":
            assert list(composed) == [name]
            composed = composed[name]
        plugin = registry.get(name)
        defaults = {field.name: field.default for field in dataclasses.fields(plugin.params)}
        assert dict(composed) == {"name": name, **defaults}


def test_help_lists_the_groups_users_choose_from_and_not_the_schemas():
    from paxos_exp.app_config import config_groups

    listed = dict(line.split(": ", 1) for line in config_groups().splitlines())
    assert set(listed) == {"experiment", "faults", "protocol", "runtime"}
    assert "flexible" in listed["protocol"].split(", ")


@pytest.mark.parametrize("preset, extra", [("joblib", "joblib"), ("submitit_local", "submitit"),
                                           ("submitit_slurm", "submitit"), ("ray", "ray")])
def test_a_missing_launcher_extra_names_the_extra_to_install(preset, extra):
    from hydra.errors import MissingConfigException

    from paxos_exp.app import _one_line

    # What Hydra raises for a preset whose plug-in is not installed (its config is missing).
    error = MissingConfigException(
        f"In 'hydra/launcher/paxos_{preset}': Could not load 'hydra/launcher/{preset}'.",
        missing_cfg_file=f"hydra/launcher/{preset}",
    )
    line = _one_line(error)
    assert "\n" not in line
    assert f"pip install -e '.[{extra}]'" in line and f"hydra/launcher=paxos_{preset}" in line


def test_fault_models_compose_as_a_list_with_each_ones_settings():
    cfg = _compose(["faults=[omission,partition]", "faults.partition.partition_prob=0.2",
                    "faults.partition.shape=isolated_leader"])
    run_config, _ = run_spec(job_config(cfg))
    assert run_config.faults.name == "omission+partition"
    assert run_config.spec()["faults"] == [
        {"name": "omission"},
        {"name": "partition", "partition_prob": 0.2, "shape": "isolated_leader",
         "symmetric": True}]
    # The order of the list does not matter: the same models, the same job.
    other = _compose(["faults=[partition,omission]", "faults.partition.partition_prob=0.2",
                      "faults.partition.shape=isolated_leader"])
    assert job_key(job_config(other)) == job_key(job_config(cfg))
    single = _compose(["faults=crash_stop", "faults.crash_stop.crash_prob=0.05"])
    assert run_spec(job_config(single))[0].spec()["faults"] == {
        "name": "crash_stop", "crash_prob": 0.05, "max_crashed": None}


def test_a_single_omission_keeps_its_spec_and_job_key():
    # Pinned on 9378d26, before fault models nested under their names: existing results resume.
    config = job_config(_compose(["nodes=3", "fail_prob=0.2", "rounds=4", "trials=50"]))
    assert config["faults"] == {"omission": {"name": "omission"}}
    assert run_spec(config)[0].spec()["faults"] == {"name": "omission"}
    flat = {**config, "faults": {"name": "omission"}}  # the form written before
    assert job_key(config) == job_key(flat) == "n3_p0.2_r4_t50_e2a1982638"


@pytest.mark.parametrize("overrides, key", [
    (["faults=crash_stop", "faults.crash_stop.crash_prob=1.5"], "faults.crash_stop.crash_prob"),
    (["faults=crash_stop", "faults.crash_stop.max_crashed=9"], "faults.crash_stop.max_crashed"),
    (["faults=crash_recovery", "faults.crash_recovery.down_rounds=0"],
     "faults.crash_recovery.down_rounds"),
    (["faults=partition", "faults.partition.shape=halves"], "faults.partition.shape"),
    (["faults=link_loss", "faults.link_loss.rule=one_link", "faults.link_loss.link=[0,7]"],
     "faults.link_loss.link"),
    (["faults=link_loss", "faults.link_loss.rule=matrix"], "faults.link_loss.matrix"),
    (["faults=link_loss", "faults.link_loss.rule=matrix",
      "faults.link_loss.matrix=[[0,1],[1,0]]"], "faults.link_loss.matrix"),
])
def test_a_bad_fault_setting_names_its_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        run_spec(job_config(_compose(overrides)))


@pytest.mark.parametrize("overrides, expected", [
    (["+faults.crash_stop.crash_prob=0.3"],
     "faults.crash_stop.crash_prob: crash_stop is not one of this job's fault models (omission); "
     "choose it with faults=crash_stop, or add it to omission with faults=[omission,crash_stop] "
     "(+faults.NAME.KEY sets a setting; it does not choose a model)"),
    (["faults=[omission,partition]", "++faults.crash_stop.crash_prob=0.3"],
     "crash_stop is not one of this job's fault models (omission, partition); choose it with "
     "faults=crash_stop, or add it to omission and partition with "
     "faults=[omission,partition,crash_stop]"),
    (["+faults.nope.x=1"], "faults.nope.x: no fault model is called nope; choose among "),
])
def test_appending_a_setting_of_a_model_not_chosen_does_not_choose_it(overrides, expected):
    # Without the check, Hydra's append composed omission+crash_stop with crash_stop's defaults.
    with pytest.raises(ConfigError) as info:
        run_spec(job_config(_compose(overrides)))
    assert expected in str(info.value)


def test_a_mapping_of_model_names_alone_still_names_its_models():
    # Not Hydra's composition (which names every model chosen through the group): a caller's
    # own mapping, as paxos_exp.run accepts it.
    from paxos_exp.core.config import RunConfig

    config = RunConfig(3, 0.1, 1, faults={"crash_stop": {"crash_prob": 0.3}, "omission": {}})
    assert config.faults.name == "crash_stop+omission"
    assert config.faults_params("crash_stop").crash_prob == 0.3


def test_a_chosen_models_setting_may_be_forced_as_in_a_sweep_over_models():
    for faults in ("crash_stop", "[omission,crash_stop]"):
        config = job_config(_compose([f"faults={faults}", "++faults.crash_stop.crash_prob=0.3"]))
        spec = run_spec(config)[0].spec()["faults"]
        models = spec if isinstance(spec, list) else [spec]
        assert {"name": "crash_stop", "crash_prob": 0.3, "max_crashed": None} in models


@pytest.mark.parametrize("argv, compose_with, expected", [
    # The example names the chosen model that has the key, with the value given.
    (["faults=crash_stop", "faults.crash_prob=0.3"], None,
     "faults.crash_prob: a fault model's settings are written faults.NAME.KEY: "
     "faults.crash_stop.crash_prob=0.3"),
    (["faults=[omission,crash_stop,crash_recovery]", "faults.crash_prob=0.3"], None,
     "faults.crash_stop.crash_prob=0.3 or faults.crash_recovery.crash_prob=0.3"),
    # No chosen model has it: say which model does, and how to choose it.
    (["faults=partition", "faults.crash_prob=0.3"], None,
     "faults.crash_prob: a fault model's settings are written faults.NAME.KEY, and crash_prob "
     "is a setting of crash_recovery and crash_stop, not of this job's fault models "
     "(partition); choose one with faults=crash_recovery faults.crash_recovery.crash_prob=0.3"),
    (["faults=partition", "faults.foo=1"], None,
     "faults.foo: no fault model has a setting foo; the settings of this job's fault models: "
     "faults.partition.partition_prob, faults.partition.shape, faults.partition.symmetric"),
    (["faults=crash_stop", "faults.crash_stop.amnesia=true"], None,
     "faults.crash_stop.amnesia: the fault model crash_stop has no setting amnesia; its "
     "settings: crash_prob, max_crashed; amnesia belongs to faults=crash_recovery"),
    # A sweep over models: Hydra checks the setting against the default model, before the sweep.
    (["-m", "faults=crash_stop,partition", "faults.crash_stop.crash_prob=0.3"],
     ["faults.crash_stop.crash_prob=0.3"],
     "faults.crash_stop.crash_prob: the sweep faults=crash_stop,partition has jobs without "
     "crash_stop, and a fault model's setting needs its model in every job; sweep one model "
     "at a time, such as faults=crash_stop faults.crash_stop.crash_prob=0.3"),
    (["-m", "faults=crash_stop,[omission,crash_stop]", "faults.crash_prob=0.3"],
     ["faults.crash_prob=0.3"],
     "write it ++faults.crash_stop.crash_prob=0.3 (every job of the sweep has crash_stop)"),
])
def test_a_misplaced_fault_setting_names_the_chosen_models(monkeypatch, argv, compose_with,
                                                           expected):
    import sys

    from hydra.errors import HydraException

    from paxos_exp.app import _one_line

    monkeypatch.setattr(sys, "argv", ["paxos-exp", *argv])
    with pytest.raises(HydraException) as info:
        _compose(compose_with if compose_with is not None else argv)
    assert expected in _one_line(info.value)


def test_a_job_key_names_fault_models_other_than_omission():
    composed = job_key(job_config(_compose(["faults=[omission,crash_stop]", "nodes=3"])))
    assert composed.startswith("crash_stop+omission_n3_")
    assert job_key(job_config(_compose(["nodes=3"]))).startswith("n3_")
