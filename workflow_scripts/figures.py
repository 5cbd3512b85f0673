"""Draw the figure of this rule (its name) from its inputs; PDF and PNG."""

from exp2simgan_core.config import spectrum_settings, volume_spectrum_config
from exp2simgan_core.jobs import start_job
from exp2simgan_core.simulate import SimulationSettings
from exp2simgan_core.stages import figures

start_job(snakemake)

i, out = snakemake.input, snakemake.output
layout = spectrum_settings(snakemake.config).layout
text = figures.caption(
    snakemake.config["preset"],
    snakemake.config["seed"],
    i.get("checkpoint", None),
    figures.ZONE_NOTE if snakemake.rule in ("fig5", "esi_applicability") else "",
)


def volume_layout():
    return SimulationSettings.from_config(volume_spectrum_config(snakemake.config)).layout


draw = {
    "fig2": lambda: figures.make_fig2(i.experiment, i.test, layout, text, out.pdf, out.png),
    "fig4": lambda: figures.make_fig4(
        i.test, i.deconvolved, i.accuracy, layout, text, out.pdf, out.png
    ),
    "fig5": lambda: figures.make_fig5(
        {
            "experiment": (i.experiment, i.experiment_deconvolved),
            "negative_control": (i.negative_control, i.negative_control_deconvolved),
        },
        i.kernels,
        i.distances,
        layout,
        text,
        out.pdf,
        out.png,
    ),  # fmt: skip
    "fig6": lambda: figures.make_fig6(
        i.test,
        {"exp2sim": i.exp2sim, "sim2exp": i.sim2exp},
        volume_layout(),
        text,
        out.pdf,
        out.png,
    ),  # fmt: skip
    "energy_cuts": lambda: figures.make_energy_cuts(
        figures.CutSource(
            i.test,
            dict(zip(("gan", *snakemake.params.methods), (i.gan, *i.baselines), strict=True)),
            i.quality,
            layout,
            figures.ENERGY_CUTS,
        ),
        figures.CutSource(i.volume_test, {"gan": i.gan3d}, i.quality3d, volume_layout(), 1, "3D"),
        text,
        out.pdf,
        out.png,
    ),
    "esi_b": lambda: figures.make_esi_b(i.test, i.convolved_gan, layout, text, out.pdf, out.png),
    "esi_applicability": lambda: figures.make_esi_applicability(
        i.distances, text, out.pdf, out.png
    ),
    "training": lambda: figures.make_training(i.losses, i.selection, text, out.pdf, out.png),
    "data_overview": lambda: figures.make_data_overview(
        dict(zip(snakemake.params.models, i, strict=True)), layout, text, out.pdf, out.png
    ),
}
draw[snakemake.rule]()
