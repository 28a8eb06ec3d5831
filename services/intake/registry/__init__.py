"""Intake's registry: org units, projects, units and customers (the master data others key on).

Intake owns it and announces every change on the ``registry.*`` topics; other services keep their
own copies. Contact details stay here: events carry ids and has_phone / has_email flags only.

  models.py   tables org_units, projects, units (customers is in ``services.intake.models``)
  domain.py   pure rules: org paths, project dates and counts, units, import cell parsing
  service.py  use cases (``*, uow, clock``) that change a record, bump its revision and publish
  imports.py  CSV / XLSX bulk import of projects, units and households, one savepoint per row
  api.py      HTTP routes under /api/v1
"""
