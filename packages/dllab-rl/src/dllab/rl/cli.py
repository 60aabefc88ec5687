"""``dllab rl ...``: value iteration and Q-learning on FrozenLake from the command line.

Each command checks its options first, then writes ``runs/rl-<command>/version_N/`` with
``hparams.yaml``, ``summary.json`` and its plots, prints the run folder and, as its last line,
the summary as JSON. Heavy libraries load inside the commands, so ``dllab --help`` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from dllab.core.checks import check_float, check_positive
from dllab.core.cli.options import Quick, RunsDir, Seed, quick_mode

app = typer.Typer(
    help="Reinforcement learning: MDPs, value iteration and Q-learning on FrozenLake.",
    no_args_is_help=True,
)

Map = Annotated[str, typer.Option("--map", help="4x4, 8x8 or a text file with one row per line.")]
Slippery = Annotated[
    bool, typer.Option("--slippery/--no-slippery", help="Slippery ice (moves as intended 1/3).")
]
MaxSteps = Annotated[
    int | None,
    typer.Option("--max-steps", min=1, help="Time limit per episode (default: the env's)."),
]
Gamma = Annotated[float, typer.Option("--gamma", min=0.0, max=1.0, help="Discount factor.")]


def _checked(check: Callable[..., Any], value: Any, option: str, **bounds: Any) -> Any:
    """Run a ``dllab.core.checks`` check on an option; its error becomes a CLI error."""
    try:
        return check(value, option, **bounds)
    except (TypeError, ValueError) as err:
        raise typer.BadParameter(str(err), param_hint=option) from None


def _lake(lake: str, slippery: bool, max_steps: int | None, gym: bool) -> tuple[Any, Any]:
    """The gymnasium env (when ``gym``) and the MDP; map and size errors become CLI errors."""
    from dllab.rl.maps import frozen_lake_mdp, make_frozen_lake

    try:
        mdp = frozen_lake_mdp(lake, slippery=slippery, max_episode_steps=max_steps)
        env = (
            make_frozen_lake(lake, slippery=slippery, max_episode_steps=max_steps) if gym else None
        )
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--map") from None
    return env, mdp


def _progress(console: Any) -> Any:
    """A rich progress bar, shown only on a terminal and removed when done."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    return Progress(
        *columns,
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _reporter(bar: Any, description: str, total: int) -> Any:
    """A callback that moves a new task of ``bar`` to the number of episodes it is given."""
    task = bar.add_task(description, total=total)
    return lambda done: bar.update(task, completed=done)


def _report(run: Any) -> None:
    """Print the run folder and, as the last line, its summary as JSON."""
    from rich.console import Console

    Console(soft_wrap=True).print(f"run folder: [bold]{run.dir}[/bold]")
    typer.echo(json.dumps(json.loads(run.path("summary.json").read_text()), sort_keys=True))


@app.command("value-iteration")
def value_iteration_command(
    lake: Map = "4x4",
    slippery: Slippery = True,
    gamma: Gamma = 0.99,
    tol: Annotated[
        float, typer.Option("--tol", help="Stop when max |V_k - V_k-1| < tol (> 0).")
    ] = 1e-10,
    max_iters: Annotated[int, typer.Option("--max-iters", min=1, help="Cap on sweeps.")] = 100_000,
    max_steps: MaxSteps = None,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Solve FrozenLake by value iteration; print V(start) and the success probability.

    With --gamma 1 the plan is made for the time limit (backward induction over its steps):
    the best action then depends on the steps left, and the success printed is the plan's.
    """
    hparams = {("map" if k == "lake" else k): v for k, v in locals().items()}
    _checked(check_positive, tol, "--tol")
    from dllab.core.runs import run_folder
    from dllab.rl.planning import value_iteration

    _, mdp = _lake(lake, slippery, max_steps, gym=False)
    with run_folder(runs_dir, "rl-value-iteration", hparams) as run:
        try:
            result = value_iteration(mdp, gamma=gamma, tol=tol, max_iters=max_iters)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--map/--gamma/--max-iters") from None
        run.write_summary(_save_value_iteration(run, mdp, result, gamma))
    _report(run)


def _save_value_iteration(run: Any, mdp: Any, result: Any, gamma: float) -> dict[str, Any]:
    """Measure the policy (or plan), save the arrays and the heatmap, print the table."""
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from dllab.rl.planning import optimal_success_probability, success_probability
    from dllab.rl.plots import plot_value_heatmap

    steps, plan = mdp.max_episode_steps, result.plan
    summary = {
        "v_start": float(mdp.initial @ result.V),
        "iterations": result.iterations,
        "residual": result.residual,
        "converged": result.converged,
        "max_episode_steps": steps,
        "plan_horizon": result.horizon,
        "success_probability": success_probability(mdp, result.policy if plan is None else plan),
        "optimal_success_probability": optimal_success_probability(mdp),
    }
    np.save(run.path("values.npy"), result.V)
    np.save(run.path("policy.npy"), result.policy if plan is None else plan)
    what = "greedy policy" if plan is None else f"first step of the {result.horizon}-step plan"
    plot_value_heatmap(
        result.V, mdp.grid, run.path("value.png"), result.policy,
        title=f"{mdp.name}: V and {what} (gamma={gamma})",
    )  # fmt: skip
    table = Table("quantity", "value", title=f"value iteration on {mdp.name}")
    table.add_row("V(start)", f"{summary['v_start']:.6f}")
    if plan is None:
        table.add_row("iterations", f"{result.iterations} (residual {result.residual:.2e})")
        table.add_row(f"P(goal within {steps} steps), greedy policy", _p(summary))
    else:
        summary["stationary_success_probability"] = success_probability(mdp, result.policy)
        table.add_row("iterations", f"{result.iterations} (backward induction, exact)")
        table.add_row(f"P(goal within {steps} steps), {steps}-step plan", _p(summary))
        table.add_row(
            "  its first-step actions played at every step",
            f"{summary['stationary_success_probability']:.4f}",
        )
    table.add_row("best possible within the limit", f"{summary['optimal_success_probability']:.4f}")
    Console(soft_wrap=True).print(table)
    return summary


def _p(summary: dict[str, Any]) -> str:
    return f"{summary['success_probability']:.4f}"


@app.command("q-learning")
def q_learning_command(
    lake: Map = "4x4",
    slippery: Slippery = True,
    episodes: Annotated[
        int | None,
        typer.Option("--episodes", min=1, help="Training episodes (default 100000, quick 10000)."),
    ] = None,
    vectorized: Annotated[
        bool,
        typer.Option("--vectorized/--gym", help="Learn in the vectorised simulator or in gym."),
    ] = True,
    gamma: Gamma = 0.995,
    lr: Annotated[float, typer.Option("--lr", help="Initial learning rate in (0, 1].")] = 0.2,
    num_envs: Annotated[
        int | None,
        typer.Option("--num-envs", min=1, help="Simulated environments (default 256, quick 128)."),
    ] = None,
    eval_episodes: Annotated[
        int, typer.Option("--eval-episodes", min=1, help="Gymnasium episodes for evaluation.")
    ] = 10_000,
    seed: Seed = 0,
    max_steps: MaxSteps = None,
    quick: Quick = False,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Learn FrozenLake with tabular Q-learning and evaluate the greedy policy."""
    quick = quick_mode(quick)
    options = dict(locals())
    _checked(check_float, lr, "--lr", min=0.0, min_open=True, max=1.0)
    from dllab.rl.qlearning import QLearningConfig
    from dllab.rl.schedules import Schedule

    base = QLearningConfig.quick() if quick else QLearningConfig()
    config = QLearningConfig(
        episodes=episodes or base.episodes,
        gamma=gamma,
        lr=Schedule(lr, min(lr, base.lr.end), base.lr.fraction, base.lr.kind),
        epsilon=base.epsilon,
        num_envs=num_envs or base.num_envs,
        seed=seed,
        max_episode_steps=max_steps,
    )
    hparams = _q_learning_hparams(options, config)
    env, mdp = _lake(lake, slippery, max_steps, gym=True)
    _run_q_learning(env, mdp, config, vectorized, eval_episodes, seed, hparams, runs_dir)


def _q_learning_hparams(options: dict[str, Any], config: Any) -> dict[str, Any]:
    keys = ["lake", "slippery", "vectorized", "gamma", "lr", "num_envs", "eval_episodes"]
    keys += ["seed", "max_steps", "quick", "runs_dir"]
    hparams = {("map" if k == "lake" else k): options[k] for k in keys}
    hparams["episodes"] = config.episodes
    hparams["num_envs"] = config.num_envs
    hparams["lr_schedule"] = vars(config.lr)
    hparams["epsilon_schedule"] = vars(config.epsilon)
    return hparams


def _run_q_learning(
    env: Any,
    mdp: Any,
    config: Any,
    vectorized: bool,
    eval_episodes: int,
    seed: int,
    hparams: dict[str, Any],
    runs_dir: Path,
) -> None:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from dllab.core.runs import run_folder
    from dllab.rl.evaluation import evaluate_policy
    from dllab.rl.planning import optimal_success_probability, success_probability
    from dllab.rl.plots import plot_learning_curves, plot_value_heatmap
    from dllab.rl.qlearning import q_learning_gym, q_learning_vectorized

    console = Console(soft_wrap=True)
    mode = "vectorised simulator" if vectorized else "gymnasium"
    with run_folder(runs_dir, "rl-q-learning", hparams) as run:
        console.print(f"Q-learning on {mdp.name} for {config.episodes} episodes ({mode})")
        with _progress(console) as bar:
            report = _reporter(bar, "training", config.episodes)
            if vectorized:
                result = q_learning_vectorized(mdp, config, report)
            else:
                result = q_learning_gym(env, config, report)
            policy = result.policy
            report = _reporter(bar, "evaluating in gymnasium", eval_episodes)
            evaluation = evaluate_policy(env, policy, eval_episodes, seed=seed + 1, progress=report)
        optimum = optimal_success_probability(mdp)
        summary = {
            **evaluation.as_dict("eval_"),
            "exact_success_probability": success_probability(mdp, policy),
            "optimal_success_probability": optimum,
            "train_episodes": config.episodes,
            "train_env_steps": result.env_steps,
            "train_seconds": result.seconds,
            "train_steps_per_second": result.env_steps / max(result.seconds, 1e-9),
        }
        np.save(run.path("q_table.npy"), result.Q)
        plot_learning_curves(
            result.successes,
            result.returns,
            run.path("curves.png"),
            optimum=optimum,
            greedy_episodes=result.curve_episodes,
            greedy_success=result.curve_success,
            title=f"Q-learning on {mdp.name} ({mode}, ε-greedy behaviour)",
        )
        plot_value_heatmap(
            result.Q.max(axis=1), mdp.grid, run.path("value.png"), policy, "max_a Q(s, a)"
        )
        table = Table("quantity", "value", title=f"Q-learning on {mdp.name}")
        table.add_row(
            f"success over {evaluation.episodes} gym episodes",
            f"{evaluation.success_rate:.4f}  "
            f"[{evaluation.ci_low:.4f}, {evaluation.ci_high:.4f}] ({evaluation.confidence:.0%} CI)",
        )
        table.add_row(
            "exact success of the learned policy", f"{summary['exact_success_probability']:.4f}"
        )
        table.add_row(f"optimum within {mdp.max_episode_steps} steps", f"{optimum:.4f}")
        table.add_row(
            "training",
            f"{result.env_steps} steps in {result.seconds:.2f} s "
            f"({summary['train_steps_per_second']:.0f} steps/s)",
        )
        console.print(table)
        run.write_summary(summary)
    _report(run)
