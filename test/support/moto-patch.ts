/**
 * A `sitecustomize.py` that the harness puts on moto_server's PYTHONPATH (and nowhere else) to work around a moto
 * 5.2.1 bug: `/moto-api/data.json` skips model attributes that are not JSON-serialisable, but lets other exceptions
 * escape — RDS DBInstance has write-only properties that raise NotImplementedError — so the whole document fails with
 * HTTP 500 from the moment any RDS instance was created until moto is reset. With one moto shared by every test file,
 * that would make `snsMessages()` depend on which other tests ran before. The patch is the same loop with a broader
 * `except`; if it cannot be applied, moto starts unpatched and says so in its log. It also accepts `?service=<name>`
 * (repeatable) to return only some services: stock moto ignores the parameter and returns everything, which is still
 * correct, only slower.
 */
export const MOTO_SITECUSTOMIZE = `# Written by the cdk-backup-dr test harness for its moto_server only; see test/support/moto-patch.ts.
try:
    import json

    from moto.moto_api._internal.responses import MotoAPIResponse

    def _model_data(self, request, full_url, headers):
        from urllib.parse import parse_qs, urlparse

        from moto.core.model_instances import model_data

        # ?service=sns limits the document to some services (once EC2 or RDS ran, the whole document is megabytes).
        wanted = parse_qs(urlparse(full_url).query).get("service")
        results = {}
        for service in sorted(model_data):
            if wanted and service not in wanted:
                continue
            models = model_data[service]
            results[service] = {}
            for name in sorted(models):
                results[service][name] = []
                for instance in models[name].instances_tracked:
                    serialisable = {}
                    for attr in dir(instance):
                        if attr.startswith("_"):
                            continue
                        try:
                            value = getattr(instance, attr)
                            json.dumps(value)
                        except Exception:  # write-only or unserialisable attribute: leave it out, as moto intends
                            continue
                        serialisable[attr] = value
                    results[service][name].append(serialisable)
        return 200, {"Content-Type": "application/javascript"}, json.dumps(results)

    MotoAPIResponse.model_data = _model_data
except Exception as error:
    import sys

    print(f"cdk-backup-dr harness: moto's data.json was not patched: {error!r}", file=sys.stderr)
`;
