"""Start the app with its first views' programs warming while the server starts.

``python -m ui.serve [streamlit run options]`` is ``streamlit run app.py`` in a
process that first starts a background thread which imports JAX and the pages'
libraries and runs the default views of the explorer and the eigenspace page
once (their runs, sweeps and contour grids), so that JAX's in-process caches hold their
programs (loaded from ``.jax_cache/`` when it has them) by the time the first
visitor's page asks for them; it then freezes that long-lived heap out of the
garbage collector's scans. The server itself starts at once. ``scripts/app.sh``
starts the app this way.

The explorer's view is warmed first, with its contour picture and the lesson list's checks, so
that a visitor who arrives once the warm-up is done computes nothing for the default view.
"""

from __future__ import annotations

import gc
import sys
import threading

from ui import shell


def warm_explorer():
    """The Landscape Explorer's default view: its runs, its contour grid and picture, and its lesson
    list, outside Streamlit's data caches."""
    from ui import explorer, lessons, plots, runs, viewstate

    lessons.load(explorer.PAGE, explorer.declare)  # checks every lesson's view (a formula's critical points)

    settings = explorer.settings_of(viewstate.defaults(explorer.declare))
    for run in settings.runs:
        runs.compute_run.__wrapped__(
            settings.landscape, settings.landscape_parameters, settings.gradient_noise, run.optimizer, run.settings,
            settings.start, settings.steps, settings.seed, settings.seeds,
        )  # fmt: skip
    grid = runs.contour_grid.__wrapped__(settings.landscape, settings.landscape_parameters)
    landscape = runs.build_landscape(settings.landscape, settings.landscape_parameters)
    plots.landscape_figure(grid, landscape, [], settings.start)  # its contour picture, which plots keeps
    explorer.warm_sweeps(settings)  # the scrub controls' and the sensitivity chart's programs


def warm_eigenspace():
    """The Eigenspace page's default view: its runs, its two contour grids and the rate map's grid of
    momentum runs, outside Streamlit's data caches."""
    from ui import eigenspace, viewstate

    settings = eigenspace.settings_of(viewstate.defaults(eigenspace.declare))
    for name, values in settings.methods:
        eigenspace.compute_method.__wrapped__(
            settings.problem, settings.parameters, settings.noise_scale, settings.batch_size, settings.seed, name,
            values, settings.steps,
        )  # fmt: skip
    eigenspace.eigen_view.__wrapped__(settings.problem, settings.parameters)
    arguments = eigenspace.pick_arguments(settings)
    if arguments is not None:
        eigenspace.pick_grid.__wrapped__(*arguments)


def warm_up():
    """The first views' programs, then the long-lived heap frozen out of the garbage collector's reach."""
    warm_explorer()
    warm_eigenspace()
    import ui.scale_up  # noqa: F401  the last page's library, imported now

    # About 200,000 objects (modules, JAX's caches) that live as long as the server: frozen, a
    # full collection skips them, and takes well under a millisecond instead of ~100 ms.
    gc.freeze()


def main():
    shell.use_compile_cache()  # before JAX is imported, here and in the pages
    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    # app.py's st.navigation lists the pages, not the pages/ folder: a first visitor's page then
    # runs once, not once in Streamlit's folder mode and again (shell.run_through_entrypoint).
    PagesManager.uses_pages_directory = False

    sys.argv = ["streamlit", "run", str(shell.ROOT / "app.py"), *sys.argv[1:]]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
