"""Unit tests of the API-model check (api_models.py with api_definitions.py): small good
and bad synthetic log entries, one rule each, and one that the check finds nothing in a
request and an answer shaped exactly as the definitions say.

Run: python -m unittest test_api_models   (from tests/conformance, with the venv's python)
"""

import unittest

import api_models
from api_definitions import ROUTES

SUB = "/subscriptions/00000000-0000-0000-0000-0000000000a1/resourceGroups/rg"
AML = SUB + "/providers/Microsoft.MachineLearningServices/workspaces/mlw"
SYN = SUB + "/providers/Microsoft.Synapse/workspaces/syn"


def entry(method, path, body=None, status=200, answer=None, with_answer=True):
    e = {"seq": 1, "method": method, "path": path, "status": status, "body": body}
    if with_answer:
        e["responseBody"] = answer
        e["responseHeaders"] = {}
    return e


def check(*entries):
    violations, _ = api_models.check_log(list(entries), ROUTES)
    return [(v.direction, v.field, v.kind) for v in violations]


GOOD_WORKSPACE = {
    "location": "westeurope",
    "sku": {"name": "Basic", "tier": "Basic"},
    "identity": {"type": "SystemAssigned"},
    "tags": {"owner": "me"},
    "properties": {"friendlyName": "mlw", "storageAccount": "/subscriptions/s/x"},
}

GOOD_POOL_ANSWER = {
    "id": SYN + "/bigDataPools/p1",
    "name": "p1",
    "type": "Microsoft.Synapse/workspaces/bigDataPools",
    "location": "westeurope",
    "tags": {},
    "properties": {
        "provisioningState": "Succeeded",
        "sparkVersion": "3.5",
        "nodeSize": "Small",
        "nodeSizeFamily": "MemoryOptimized",
        "autoScale": {"enabled": True, "minNodeCount": 3, "maxNodeCount": 10},
        "autoPause": {"enabled": True, "delayInMinutes": 15},
        "nodeCount": 3,
    },
}


class Rules(unittest.TestCase):
    def test_a_well_formed_request_and_answer_pass(self):
        put = entry("PUT", AML + "?api-version=2024-10-01", GOOD_WORKSPACE, 201, None)
        get = entry("GET", SYN + "/bigDataPools/p1?api-version=2021-06-01", None, 200, GOOD_POOL_ANSWER)
        self.assertEqual(check(put, get), [])

    def test_closed_enum_casing_in_a_request(self):
        body = dict(GOOD_WORKSPACE, sku={"name": "basic", "tier": "basic"})
        self.assertEqual(
            check(entry("PUT", AML + "?api-version=2024-10-01", body)),
            [("request", "sku.tier", "closed enum violated")],
        )

    def test_open_enum_accepts_any_string(self):
        answer = dict(GOOD_POOL_ANSWER, properties=dict(GOOD_POOL_ANSWER["properties"], nodeSize="Huge"))
        self.assertEqual(check(entry("GET", SYN + "/bigDataPools/p1?api-version=2021-06-01", answer=answer)), [])

    def test_closed_enum_synapse_identity_user_assigned(self):
        body = {"location": "westeurope", "identity": {"type": "UserAssigned"}, "properties": {}}
        self.assertEqual(
            check(entry("PUT", SYN + "?api-version=2021-06-01", body, 201, None)),
            [("request", "identity.type", "closed enum violated")],
        )

    def test_unknown_and_miscased_properties(self):
        body = dict(GOOD_WORKSPACE, properties={"FriendlyName": "x", "colour": "blue"})
        self.assertEqual(
            sorted(check(entry("PUT", AML + "?api-version=2024-10-01", body, 201, None))),
            [
                ("request", "properties.FriendlyName", "miscased property"),
                ("request", "properties.colour", "unknown property"),
            ],
        )

    def test_miscased_answer_of_check_access(self):
        path = "/_synapse/syn/checkAccessSynapseRbac?api-version=2020-12-01"
        request = {
            "subject": {"principalId": "p", "groupIds": []},
            "actions": [{"id": "Microsoft.Synapse/workspaces/bigDataPools/useCompute/action", "isDataAction": True}],
            "scope": "workspaces/syn",
        }
        good = {"AccessDecisions": [{"accessDecision": "Allowed", "actionId": "a"}]}
        bad = {"accessDecisions": [{"accessDecision": "Allowed", "actionId": "a"}]}
        self.assertEqual(check(entry("POST", path, request, 200, good)), [])
        self.assertEqual(
            check(entry("POST", path, request, 200, bad)), [("response", "accessDecisions", "miscased property")]
        )

    def test_read_only_property_sent(self):
        body = dict(GOOD_WORKSPACE, id=AML)
        self.assertEqual(
            check(entry("PUT", AML + "?api-version=2024-10-01", body, 201, None)),
            [("request", "id", "read-only property sent")],
        )

    def test_read_only_property_answered_is_fine(self):
        self.assertEqual(check(entry("GET", SYN + "/bigDataPools/p1?api-version=2021-06-01", answer=GOOD_POOL_ANSWER)), [])

    def test_required_property_missing(self):
        body = {"roleId": "r", "scope": "workspaces/syn"}
        self.assertEqual(
            check(entry("PUT", "/_synapse/syn/roleAssignments/1?api-version=2020-12-01", body, 200, None)),
            [("request", "principalId", "required property missing")],
        )

    def test_wrong_type(self):
        body = {"location": "westeurope", "properties": {"nodeCount": "3", "autoScale": {"enabled": "yes"}}}
        self.assertEqual(
            sorted(check(entry("PUT", SYN + "/bigDataPools/p1?api-version=2021-06-01", body, 202, None))),
            [
                ("request", "properties.autoScale.enabled", "wrong type"),
                ("request", "properties.nodeCount", "wrong type"),
            ],
        )

    def test_null_without_x_nullable(self):
        answer = dict(GOOD_POOL_ANSWER, properties=dict(GOOD_POOL_ANSWER["properties"], libraryRequirements=None))
        self.assertEqual(
            check(entry("GET", SYN + "/bigDataPools/p1?api-version=2021-06-01", answer=answer)),
            [("response", "properties.libraryRequirements", "null not allowed")],
        )

    def test_null_with_x_nullable(self):
        answer = {
            "location": "westeurope",
            "identity": {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {"/x": {"clientId": None, "principalId": None}}},
        }
        self.assertEqual(check(entry("GET", SYN + "?api-version=2021-06-01", answer=answer)), [])

    def test_discriminated_compute_properties(self):
        body = {
            "location": "westeurope",
            "identity": {"type": "None"},
            "properties": {"computeType": "SynapseSpark", "resourceId": "/x", "properties": {"sparkVersion": "3.5"}},
        }
        bad = dict(body, properties=dict(body["properties"], properties={"sparkversion": "3.5", "poolSize": 1}))
        path = AML + "/computes/c1?api-version=2023-04-01"
        self.assertEqual(check(entry("PUT", path, body, 201, None)), [])
        self.assertEqual(
            sorted(check(entry("PUT", path, bad, 201, None))),
            [
                ("request", "properties.properties.poolSize", "unknown property"),
                ("request", "properties.properties.sparkversion", "miscased property"),
            ],
        )

    def test_error_answers_use_the_arm_envelope(self):
        good = {"error": {"code": "ResourceNotFound", "message": "gone"}}
        bad = {"code": "ResourceNotFound", "message": "gone"}
        path = AML + "?api-version=2024-10-01"
        self.assertEqual(check(entry("GET", path, None, 404, good)), [])
        self.assertEqual(
            sorted(check(entry("GET", path, None, 404, bad))),
            [("response", "code", "unknown property"), ("response", "message", "unknown property")],
        )

    def test_operation_status_shape(self):
        path = SYN + "/operationStatuses/abc?api-version=2021-06-01"
        self.assertEqual(check(entry("GET", path, answer={"status": "InProgress"})), [])
        self.assertEqual(check(entry("GET", path, answer={"state": "x"})), [
            ("response", "state", "unknown property"),
            ("response", "status", "required property missing"),
        ])

    def test_api_version_without_definition_and_unknown_operation(self):
        self.assertEqual(
            check(entry("GET", AML + "?api-version=2022-05-01", with_answer=False)),
            [("request", "api-version", "api-version without a definition")],
        )
        self.assertEqual(
            check(entry("GET", SUB + "/providers/Microsoft.Foo/bars/b?api-version=1", with_answer=False)),
            [("request", "", "operation without a definition")],
        )

    def test_answers_without_a_logged_body_check_the_request_only(self):
        body = dict(GOOD_WORKSPACE, sku={"name": "Basic", "tier": "basic"})
        violations, counts = api_models.check_log([entry("PUT", AML + "?api-version=2024-10-01", body, with_answer=False)], ROUTES)
        self.assertEqual([v.field for v in violations], ["sku.tier"])
        self.assertEqual(counts["answersWithoutBody"], 1)

    def test_token_and_control_requests_are_skipped(self):
        _, counts = api_models.check_log(
            [
                entry("GET", "/_identity/msi?api-version=2019-08-01&resource=x", with_answer=False),
                entry("POST", "/tenant/oauth2/v2.0/token", {"grant_type": "x"}, with_answer=False),
            ],
            ROUTES,
        )
        self.assertEqual(counts["skipped"], 2)


if __name__ == "__main__":
    unittest.main()
