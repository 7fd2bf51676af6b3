#!/usr/bin/env python3
"""Creates deploy/member-role.yaml as a stack on a CloudFormation endpoint (moto's server) and
prints what it created, as JSON, for tests/deploy_template.rs to check.

Printed: the template as CloudFormation reads it (cfn-lint's parser: intrinsic functions
become {"Ref": ...} objects), the stack's status and reason, its outputs, resources and
parameters, the role (name, ARN, maximum session length, trust policy), every inline policy
of the role by name, every managed policy attached to it, every role in the account, and
whether a stack without the ExternalId parameter was refused.

Usage: check_member_role.py --endpoint http://127.0.0.1:5000 --template deploy/member-role.yaml
       --trusted-account 111122223333 --external-id ID [--role-name NAME]
"""

import argparse
import ast
import json
import sys
import time

import boto3
from botocore.exceptions import ClientError
from cfnlint.decode import decode

REGION = "us-east-1"
STACK = "keyhygiene-member-role"
FINAL = ("CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--template", required=True)
    p.add_argument("--trusted-account", required=True)
    p.add_argument("--external-id", required=True)
    p.add_argument("--role-name", help="the RoleName parameter; default: the template's")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for the stack")
    return p.parse_args()


def client(name, endpoint):
    return boto3.client(
        name,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="AKIAKEYHYGIENECFNTST",
        aws_secret_access_key="cfn-test-not-a-secret",
    )


def policy_document(document):
    """A policy document as a dict. boto3 decodes IAM's URL-encoded JSON into a dict; moto
    answers a policy that CloudFormation created as the text of a Python dict."""
    if isinstance(document, dict):
        return document
    try:
        return json.loads(document)
    except ValueError:
        return ast.literal_eval(document)


def main():
    args = parse_args()
    cfn = client("cloudformation", args.endpoint)
    iam = client("iam", args.endpoint)
    with open(args.template, encoding="utf-8") as f:
        body = f.read()

    template, problems = decode(args.template)
    if problems:
        sys.exit(f"{args.template} does not parse: {problems}")

    # A stack without the ExternalId must be refused: the parameter has no default.
    try:
        cfn.create_stack(
            StackName=STACK + "-no-external-id",
            TemplateBody=body,
            Parameters=[{"ParameterKey": "TrustedAccountId", "ParameterValue": args.trusted_account}],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        missing_external_id_refused = None
    except ClientError as e:
        missing_external_id_refused = e.response["Error"].get("Message", str(e))

    parameters = [
        {"ParameterKey": "TrustedAccountId", "ParameterValue": args.trusted_account},
        {"ParameterKey": "ExternalId", "ParameterValue": args.external_id},
    ]
    if args.role_name:
        parameters.append({"ParameterKey": "RoleName", "ParameterValue": args.role_name})
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=body,
        Parameters=parameters,
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    deadline = time.monotonic() + args.timeout
    while True:
        stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        if stack["StackStatus"] in FINAL or time.monotonic() > deadline:
            break
        time.sleep(0.2)

    result = {
        "stack_status": stack["StackStatus"],
        "stack_status_reason": stack.get("StackStatusReason"),
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        "stack_parameters": {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        "template": template,
        "missing_external_id_refused": missing_external_id_refused,
        "resources": [
            {"type": r["ResourceType"], "physical_id": r.get("PhysicalResourceId")}
            for r in cfn.describe_stack_resources(StackName=STACK)["StackResources"]
        ],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
    }
    if stack["StackStatus"] == "CREATE_COMPLETE":
        name = args.role_name or template["Parameters"]["RoleName"]["Default"]
        role = iam.get_role(RoleName=name)["Role"]
        result["role"] = {
            "name": role["RoleName"],
            "arn": role["Arn"],
            "max_session_duration": role.get("MaxSessionDuration"),
            "trust_policy": role["AssumeRolePolicyDocument"],
        }
        result["inline_policies"] = {
            p: policy_document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
            for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
        }
        result["attached_policies"] = [
            p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        ]
    json.dump(result, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
