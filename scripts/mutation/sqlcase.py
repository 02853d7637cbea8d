"""The SQL-case rule: a mutant that only changes the letter case of SQL SQLite ignores."""

from __future__ import annotations

import ast
import re
import textwrap

# mutmut's string mutants include the literal in lower and in upper case. In SQL, keywords,
# table and column names and function names are case-insensitive, so most such mutants of a
# query cannot be told apart by any test: they are reported as "equivalent (SQL case)" instead
# of as survivors. Strictly: only what SQLite provably ignores may change case (see sql_case_
# equivalent); anything it keeps (quoted text, a result column's name, a stored schema) must not.
SQL_STRONG = {"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "FROM", "WHERE", "JOIN", "VALUES",
              "ORDER", "GROUP", "HAVING", "RETURNING", "PRAGMA", "CONFLICT", "UNION"}
SQL_KEYWORDS = SQL_STRONG | {"WITH", "INTO", "SET", "BY", "LIMIT", "OFFSET", "ON", "AND", "OR",
                             "NOT", "NULL", "IS", "IN", "AS", "LEFT", "INNER", "OUTER", "CROSS",
                             "DISTINCT", "EXISTS", "BETWEEN", "LIKE", "CASE", "WHEN", "THEN",
                             "ELSE", "END", "ASC", "DESC", "DO", "IGNORE", "ABORT", "DROP",
                             "CREATE", "ALTER", "TABLE", "INDEX", "VIEW", "TRIGGER", "GLOB"}
# Clauses ending a select list (at its own bracket depth).
SELECT_LIST_END = {"FROM", "WHERE", "GROUP", "ORDER", "LIMIT", "HAVING", "WINDOW", "UNION",
                   "INTERSECT", "EXCEPT", "VALUES"}
# A bare select-list word that is a value, not a column: the column's name is the text itself.
SQL_VALUE_WORDS = {"NULL", "TRUE", "FALSE", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP"}
# Words ending the operand of GLOB (whose pattern is case-sensitive).
GLOB_OPERAND_END = SELECT_LIST_END | {"AND", "OR", "ESCAPE", "THEN", "WHEN", "ELSE", "END",
                                      "ASC", "DESC", "COLLATE"}
PLACEHOLDER = "\0"     # an f-string's {expression} inside a literal: opaque, never changed
# Whole statements with nothing SQLite reads by case: a PRAGMA with a plain name and value
# (names, ON/OFF, WAL, numbers), and the transaction statements. The keyword must be in upper
# case in the source, as everywhere in this rule, so prose ("Commit") is never taken for SQL.
_PRAGMA = re.compile(r"\s*PRAGMA\s+(?:\w+\.)?\w+\s*(?:=\s*[-+]?\w+\s*|\(\s*\w+\s*\)\s*)?;?\s*",
                     re.ASCII)
_TRANSACTION = re.compile(r"\s*(?:BEGIN(?:\s+(?:DEFERRED|IMMEDIATE|EXCLUSIVE))?|COMMIT|END"
                          r"|ROLLBACK)(?:\s+TRANSACTION)?\s*;?\s*", re.ASCII)

_SQL_TOKEN = re.compile(r"""
      (?P<string>'(?:[^']|'')*')                 # 'text': case-sensitive
    | (?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`)   # "name": a string if no such column (DQS)
    | (?P<bracket>\[[^\]]*\])                    # [name]: always a name
    | (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<param>\?\d*|[:@$][A-Za-z_]\w*)          # ?, ?1, :name: bound by exact name
    | (?P<format>\{[^{}]*\}|%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[A-Za-z%])  # str.format / %
    | (?P<number>\d[\w.]*)
    | (?P<word>[A-Za-z_]\w*)
    | (?P<space>\s+)
    | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


def _sql_tokens(text: str) -> list[tuple[str, str]] | None:
    """SQL text as (kind, text) tokens; None when a quote or comment is left open."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _SQL_TOKEN.match(text, pos)
        if m is None:
            return None
        kind = m.lastgroup or "other"
        if kind == "other" and m.group() in "'\"`[":
            return None                      # unbalanced: the rest lies in another literal
        if kind == "other" and text.startswith("/*", pos):
            return None
        tokens.append((kind, m.group()))
        pos = m.end()
    return tokens


def looks_like_sql(text: str) -> bool:
    """Is this literal (a whole statement or a fragment of one) SQL rather than prose?

    Strict on purpose: a strong keyword in upper case (SELECT, FROM, WHERE, ...), and the text
    starts with a keyword or continues another literal (leading space, '(' or ','), and it has
    a second keyword or a comparison, a parameter or a quoted value. A piece that only joins
    others, upper-case keywords after a leading space (" WHERE ", " AND ", " ORDER BY "), is
    SQL too: prose is not written so.
    """
    tokens = _sql_tokens(text)
    if not tokens:
        return False
    sig = [(k, t) for k, t in tokens if k not in ("space", "comment")]
    if not sig:
        return False
    upper = {t for k, t in sig if k == "word" and t.isupper() and t in SQL_KEYWORDS}
    if text[0] in " \t\n" and all(k == "word" and t in upper for k, t in sig):
        return True
    if not upper & SQL_STRONG:
        return False
    first_kind, first = sig[0]
    starts = (first_kind == "word" and first in upper) or text[0] in " \t\n(,"
    more = len(upper) >= 2 or any(k in ("param", "string") or t in "=<>" for k, t in sig)
    return starts and more


def _plain_column(item: list[tuple[str, str]]) -> bool:
    """A select-list item whose result name SQLite takes from the schema: col, t.col, *, t.*."""
    texts = [t for _, t in item]
    if not texts or len(texts) % 2 == 0:
        return False
    for i, (kind, text) in enumerate(item):
        if i % 2 == 1:
            if text != ".":
                return False
        elif not (kind in ("word", "bracket") or (text == "*" and i == len(item) - 1)):
            return False
    return not (len(item) == 1 and texts[0].upper() in SQL_VALUE_WORDS)


def sql_case_equivalent(old: str, new: str) -> bool:
    """Is `new` the SQL literal `old` with a change of case that SQLite cannot see?

    True only when the two differ by letter case alone, `old` looks like SQL, and no case
    changes in: a 'string' (values, LIKE/GLOB patterns) or "quoted name" (SQLite reads it as a
    string when no column has that name); a bound :parameter name; a str.format {field} or %
    directive; the pattern operand of GLOB; a name after AS (a result column or alias) or a CTE's
    column list; a select-list or RETURNING item that is not a plain column (its text is the
    result column's name, e.g. count(*)); and not at all in CREATE or ALTER (sqlite_master keeps
    the text, and declared names surface in SELECT *). Literals split across Python literals
    (an open quote) are never equivalent. A whole ``PRAGMA name [= value]`` or transaction
    statement (``BEGIN IMMEDIATE``, ``ROLLBACK``) written in upper case is.
    """
    if old == new or old.lower() != new.lower():
        return False
    if _PRAGMA.fullmatch(old) or _TRANSACTION.fullmatch(old):
        return True
    if not looks_like_sql(old):
        return False
    a, b = _sql_tokens(old), _sql_tokens(new)
    if a is None or b is None or len(a) != len(b):
        return False
    for (ka, ta), (kb, tb) in zip(a, b, strict=True):
        if ka != kb or (ta != tb and ka not in ("word", "bracket", "comment", "number", "space")):
            return False
    pairs = [(k, ta, tb) for (k, ta), (_, tb) in zip(a, b, strict=True)
             if k not in ("space", "comment")]
    upper = [ta.upper() if k == "word" else None for k, ta, _ in pairs]
    if {"CREATE", "ALTER"} & set(upper):
        return False
    # Bracket depth of each token, and the word before each open bracket (CAST, a CTE name).
    depth, opener, stack = [], [], []
    for i, (_, ta, _) in enumerate(pairs):
        if ta == ")" and stack:
            stack.pop()
        depth.append(len(stack))
        opener.append(stack[-1] if stack else None)
        if ta == "(":
            stack.append(upper[i - 1] if i and upper[i - 1] else "")
    n = len(pairs)
    for i in range(n):
        word = upper[i]
        if word == "AS" and i + 1 < n:
            nxt = upper[i + 1]
            if pairs[i + 1][1] == "(" or nxt in ("NOT", "MATERIALIZED") or opener[i] == "CAST":
                pass
            elif pairs[i + 1][1] != pairs[i + 1][2]:
                return False                         # an alias: a result name or a CTE name
            if i and pairs[i - 1][1] == ")" and i + 1 < n and (
                    pairs[i + 1][1] == "(" or nxt in ("NOT", "MATERIALIZED")):
                j = i - 1                            # name(col, ...) AS (...): CTE columns
                while j >= 0 and not (pairs[j][1] == "(" and depth[j] == depth[i - 1]):
                    j -= 1
                if any(pairs[k][1] != pairs[k][2] for k in range(j, i)):
                    return False
        if word == "GLOB":
            j, d = i + 1, depth[i]
            if j < n and pairs[j][1] == "(":          # glob(pattern, text): the first argument
                j += 1
                d += 1
            while j < n and not (depth[j] == d and (pairs[j][1] == ","
                                                     or upper[j] in GLOB_OPERAND_END)):
                if depth[j] < d:
                    break
                if pairs[j][1] != pairs[j][2]:
                    return False
                j += 1
        if word in ("SELECT", "RETURNING"):
            j, d = i + 1, depth[i]
            if j < n and upper[j] in ("DISTINCT", "ALL"):
                j += 1
            item: list[int] = []
            while True:
                end = j >= n or depth[j] < d or (depth[j] == d and (
                    pairs[j][1] == "," or upper[j] in SELECT_LIST_END))
                if end:
                    if any(pairs[k][1] != pairs[k][2] for k in item):
                        tops = [k for k in item if depth[k] == d]
                        aliased = (len(tops) >= 2 and upper[tops[-2]] == "AS"
                                   and pairs[tops[-1]][1] == pairs[tops[-1]][2])
                        if not aliased and not _plain_column(
                                [(pairs[k][0], pairs[k][1]) for k in item]):
                            return False
                    item = []
                    if j >= n or depth[j] < d or pairs[j][1] != ",":
                        break
                    j += 1
                    continue
                item.append(j)
                j += 1
    return True


def _literal_text(node: ast.AST) -> str | None:
    """A str constant's text, or an f-string's with each {expression} as PLACEHOLDER."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else PLACEHOLDER
                       for v in node.values)
    return None


def sql_case_mutant(old_source: str, new_source: str) -> bool:
    """Do two versions of a function differ only in SQL literals changed by case alone?"""
    try:
        a = ast.parse(textwrap.dedent(old_source))
        b = ast.parse(textwrap.dedent(new_source))
    except SyntaxError:
        return False
    changed = []
    na, nb = list(ast.walk(a)), list(ast.walk(b))
    if len(na) != len(nb):
        return False
    parents: dict[int, ast.AST] = {}
    for node in na:
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    for x, y in zip(na, nb, strict=True):
        if type(x) is not type(y):
            return False
        for (_, va), (_, vb) in zip(ast.iter_fields(x), ast.iter_fields(y), strict=True):
            if isinstance(va, list) and isinstance(vb, list):
                if len(va) != len(vb) or any(
                        not isinstance(p, ast.AST) and p != q for p, q in zip(va, vb, strict=True)):
                    return False
            elif not isinstance(va, ast.AST) and va != vb:
                if not (isinstance(x, ast.Constant) and isinstance(va, str)
                        and isinstance(vb, str)):
                    return False
                parent = parents.get(id(x))
                whole = parent if isinstance(parent, ast.JoinedStr) else x
                ya = nb[na.index(whole)]
                changed.append((_literal_text(whole), _literal_text(ya)))
    return bool(changed) and all(o is not None and n is not None and sql_case_equivalent(o, n)
                                 for o, n in changed)
