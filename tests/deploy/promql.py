"""What a PromQL expression refers to, read from its syntax tree (promql-parser)."""

from __future__ import annotations

import promql_parser

COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
SET_OPERATORS = {"and", "or", "unless"}


def selectors(expr: str) -> list[str]:
    """Every vector selector in ``expr``, with its label matchers, e.g. ``up{job="x"}``.

    Examples
    --------
    >>> selectors('rate(a_total{kind="x"}[5m]) / b > 0.1')
    ['a_total{kind="x"}', 'b']
    >>> selectors('rate(a_total[5m] offset 1h)')  # what it selects, not when
    ['a_total']
    """
    found: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            text = str(node).split(" offset ")[0]
            found.append(text.removesuffix("{}"))

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return list(dict.fromkeys(found))


def metric_names(expr: str) -> set[str]:
    """Names of the metrics ``expr`` reads.

    Examples
    --------
    >>> sorted(metric_names('histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))'))
    ['h_bucket']
    """
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return names


def normalized(expr: str) -> str:
    """``expr`` as the parser writes it back, to compare with :func:`filtered_operands`."""
    return _render(promql_parser.parse(expr))


def filtered_operands(expr: str) -> list[str]:
    """The parts of ``expr`` that must return data for its filters to mean anything.

    A comparison without ``bool`` filters: ``x > 0.2`` returns nothing both when ``x`` is
    below 0.2 and when ``x`` does not exist. Comparisons and set operators (``and``, ``or``,
    ``unless``) are taken apart down to their non-literal operands; any other expression is
    its own operand.

    Examples
    --------
    >>> filtered_operands('(a < 0.7) and on (job) (b >= c)')
    ['a', 'b', 'c']
    >>> filtered_operands('sum(rate(x[5m])) / sum(rate(y[5m])) > 0.05')
    ['sum(rate(x[5m])) / sum(rate(y[5m]))']
    """
    return [_render(part) for part in _operands(promql_parser.parse(expr))]


def comparison_thresholds(expr: str) -> list[tuple[str, float]]:
    """``(operand, literal)`` for each filtering comparison of ``expr`` against a number.

    Examples
    --------
    >>> comparison_thresholds('(a < 0.7) and (b >= c)')
    [('a', 0.7)]
    """
    found: list[tuple[str, float]] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.BinaryExpr) and _is_filter(node):
            for side, other in ((node.lhs, node.rhs), (node.rhs, node.lhs)):
                if isinstance(other, promql_parser.NumberLiteral):
                    found.append((_render(side), float(str(other))))

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return found


def _is_filter(node: promql_parser.BinaryExpr) -> bool:
    modifier = node.modifier
    return str(node.op) in COMPARISONS and not (modifier is not None and modifier.return_bool)


def _operands(node: promql_parser.Expr) -> list[promql_parser.Expr]:
    if isinstance(node, promql_parser.ParenExpr):
        return _operands(node.expr)
    if isinstance(node, promql_parser.BinaryExpr) and (
        _is_filter(node) or str(node.op) in SET_OPERATORS
    ):
        return [
            part
            for side in (node.lhs, node.rhs)
            if not isinstance(side, promql_parser.NumberLiteral)
            for part in _operands(side)
        ]
    return [node]


def _render(node: promql_parser.Expr) -> str:
    # promql-parser writes a selector without matchers as `name{}`; drop the empty braces.
    return str(node).replace("{}", "")
