"""Rule-based enrichment: the facts, inferences and analyses a posting supports, by rules.

Domain rules (salary, visa, work model, geography, experience, education, benefits,
roles, skills with their catalog, stack) that answer each pass in the contract's shape,
with verbatim evidence, deterministically and without a model. Three users: the offline
``heuristic`` backend (:mod:`enrichment_dagster.llm.heuristic`, a thin adapter), the
earlier-pass context of ``enrichment prompt-report``, and tests that use the rules as an
oracle.

The entry point is :mod:`.answers` (``answer``, ``render``, ``rules_version``). This
package depends on :mod:`enrichment_dagster.contracts` only (and the standard library and
PyYAML for the catalog): never on ``llm``, ``engine``, ``prompts``, ``storage`` or
Dagster, so ``rules_version()`` is a digest of the rules alone
(``enrichment_dagster_tests/rules/test_package.py`` keeps it so).
"""
