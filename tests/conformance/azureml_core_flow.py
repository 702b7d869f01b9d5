"""The seed document's own flow with azureml-core (SDK v1), unmodified, against the
emulator: Workspace.get, LinkedService.register/get/list/unregister with
SynapseWorkspaceLinkedServiceConfiguration, ComputeTarget.attach of a SynapseCompute and
wait_for_completion, ws.compute_targets, detach.

Usage (from conformance.py, with the python of the azureml-core venv, which pins older
azure-* packages than the current SDKs and so lives apart):
    python azureml_core_flow.py URL SUBSCRIPTION RG AML SYNAPSE_RG SYNAPSE POOL

Only endpoint and credential settings point it at the emulator:
- the cloud: ARM_CLOUD_METADATA_URL names a file of ARM cloud metadata (the shape of
  `GET {ARM}/metadata/endpoints`) whose resourceManager is the emulator, and
  AZUREML_CURRENT_CLOUD selects it (azureml-core's own sovereign-cloud mechanism);
- the credential: azureml-core's TokenAuthentication, whose callable asks the emulator's
  managed-identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER) for each audience;
- TLS: REQUESTS_CA_BUNDLE names the emulator's CA file.

Each step prints `ok STEP` or `FAILED STEP: error`; the exit code is the number of failed
steps (a later step that needs an earlier one's result is not run after its failure).
"""

import json
import os
import sys
import traceback
import urllib.parse

import requests


def token_for(audience):
    """The emulator's App Service managed-identity protocol (2019-08-01)."""
    resource = audience.value if hasattr(audience, "value") else str(audience)
    query = urllib.parse.urlencode({"api-version": "2019-08-01", "resource": resource})
    answer = requests.get(
        f"{os.environ['IDENTITY_ENDPOINT']}?{query}",
        headers={"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


FAILED = []


def step(name, fn):
    try:
        result = fn()
        print(f"ok {name}", flush=True)
        return result
    except Exception as e:  # noqa: BLE001 (every failure is reported, then counted)
        last = traceback.extract_tb(e.__traceback__)[-1]
        print(f"FAILED {name}: {type(e).__name__}: {e} (at {last.filename}:{last.lineno})", flush=True)
        FAILED.append(name)
        return None


def main(url, sub, rg, aml, syn_rg, syn, pool):
    from azureml.core import LinkedService, SynapseWorkspaceLinkedServiceConfiguration, Workspace
    from azureml.core.authentication import TokenAuthentication
    from azureml.core.compute import ComputeTarget, SynapseCompute

    auth = TokenAuthentication(get_token_for_audience=token_for, cloud=os.environ["AZUREML_CURRENT_CLOUD"])
    ws = step("Workspace.get", lambda: Workspace.get(aml, auth=auth, subscription_id=sub, resource_group=rg))
    if ws is None:
        return
    config = os.environ["AZURE_CONFIG_DIR"]  # a directory: write_config adds .azureml/config.json
    step("Workspace.write_config", lambda: ws.write_config(path=config))
    step("Workspace.from_config", lambda: Workspace.from_config(path=config, auth=auth))

    link_config = SynapseWorkspaceLinkedServiceConfiguration(
        subscription_id=sub, resource_group=syn_rg, name=syn
    )
    link = step(
        "LinkedService.register",
        lambda: LinkedService.register(workspace=ws, name="synlinkv1", linked_service_config=link_config),
    )
    if link is not None:

        def principal():
            assert link.system_assigned_identity_principal_id, "a principal id"

        step("LinkedService principal id", principal)
    step("LinkedService.get", lambda: LinkedService.get(ws, "synlinkv1"))

    def listed():
        names = [l.name for l in LinkedService.list(ws)]
        assert "synlinkv1" in names, names

    step("LinkedService.list", listed)

    def attach():
        attach_config = SynapseCompute.attach_configuration(
            linked_service=link, type="SynapseSpark", pool_name=pool
        )
        compute = ComputeTarget.attach(ws, "sparkv1", attach_config)
        compute.wait_for_completion(show_output=False)
        assert compute.provisioning_state == "Succeeded", compute.provisioning_state
        return compute

    compute = step("ComputeTarget.attach + wait_for_completion", attach) if link is not None else None

    def bad_attach():
        bad_config = SynapseCompute.attach_configuration(
            linked_service=link, type="SynapseSpark", pool_name="nosuchpool"
        )
        try:
            bad = ComputeTarget.attach(ws, "sparkbad", bad_config)
            bad.wait_for_completion(show_output=False)
        except (TypeError, AttributeError, KeyError):
            raise  # the client crashed on an answer: not the attach failing
        except Exception as e:  # noqa: BLE001 (a failed attach may raise or end Failed)
            return str(e)
        assert bad.provisioning_state == "Failed", bad.provisioning_state
        return "Failed"

    if link is not None:
        step("ComputeTarget.attach of a pool that does not exist fails", bad_attach)

    def targets():
        found = ws.compute_targets
        assert "sparkv1" in found, sorted(found)
        assert found["sparkv1"].type == "SynapseSpark", found["sparkv1"].type

    step("ws.compute_targets (with a failed attach listed)", targets)
    if compute is not None:
        step("SynapseCompute.detach", compute.detach)
    step("ComputeTarget detach of the failed attach", lambda: ComputeTarget(ws, "sparkbad").detach())
    if link is not None:
        step("LinkedService.unregister", link.unregister)

        def gone():
            names = [l.name for l in LinkedService.list(ws)]
            assert "synlinkv1" not in names, names

        step("LinkedService.list after unregister", gone)


if __name__ == "__main__":
    if len(sys.argv) != 8:
        sys.exit("usage: azureml_core_flow.py URL SUBSCRIPTION RG AML SYNAPSE_RG SYNAPSE POOL")
    main(*sys.argv[1:])
    print(json.dumps({"failed": FAILED}), flush=True)
    sys.exit(len(FAILED))
