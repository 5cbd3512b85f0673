"""exp2simgan_core.gan.settings: the names it lists are the registries' keys, and it loads (and
so does checking a config) without torch."""

import subprocess
import sys
from pathlib import Path

import pytest

from exp2simgan_core.gan.losses import ADVERSARIAL_LOSSES
from exp2simgan_core.gan.networks import DISCRIMINATORS, GENERATORS, ResnetGenerator
from exp2simgan_core.gan.settings import (
    ADVERSARIAL_MODES,
    DISCRIMINATOR_NAMES,
    GENERATOR_NAMES,
    GanSettings,
    GeneratorSettings,
)

ROOT = Path(__file__).resolve().parents[1]


def test_listed_names_are_the_registries_keys():
    assert sorted(GENERATOR_NAMES) == sorted(GENERATORS)
    assert sorted(DISCRIMINATOR_NAMES) == sorted(DISCRIMINATORS)
    assert sorted(ADVERSARIAL_MODES) == sorted(ADVERSARIAL_LOSSES)


@pytest.mark.parametrize("n_blocks", [1, 6, 9])
def test_encoder_layer_count_is_the_networks(n_blocks):
    settings = GeneratorSettings(ngf=4, n_blocks=n_blocks)
    assert settings.n_encoder_layers == ResnetGenerator(settings).n_encoder_layers
    assert len(ResnetGenerator(settings).model) > settings.n_encoder_layers - 1


@pytest.mark.parametrize("field", ["generator", "discriminator", "gan_mode"])
def test_an_unknown_registry_name_is_refused_by_name(field):
    with pytest.raises(ValueError, match=f"{field} 'nope' not in"):
        GanSettings(**{field: "nope"}).validate()


def test_checking_a_config_imports_no_torch():
    code = (
        "import sys\n"
        "from exp2simgan_core.config import run_config\n"
        "run_config('config/demo.yaml')\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'pytorch_fid') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
