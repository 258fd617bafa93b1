"""Fleet jobs: staged software and configuration rollouts to kiosks (issue 20).

Head office uploads a signed bundle (:mod:`contract.bundles`), creates a job that targets
kiosks by store, group or list with rollout stages, a concurrency cap and abort
thresholds; the scheduler (:mod:`.scheduler`, run by :mod:`.runtime`) sends each due
kiosk a signed ``job`` command and follows its reports. The kiosk side is
``kiosk_agent.updates``.
"""
