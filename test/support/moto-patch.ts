/**
 * A `sitecustomize.py` that the harness puts on moto_server's PYTHONPATH (and nowhere else) to work around a moto
 * 5.2.1 bug: `/moto-api/data.json` skips model attributes that are not JSON-serialisable, but lets other exceptions
 * escape — RDS DBInstance has write-only properties that raise NotImplementedError — so the whole document fails with
 * HTTP 500 from the moment any RDS instance was created until moto is reset. With one moto shared by every test file,
 * that would make `snsMessages()` depend on which other tests ran before. The patch is the same loop with a broader
 * `except`; if it cannot be applied, moto starts unpatched and says so in its log. It also accepts `?service=<name>`
 * (repeatable) to return only some services: stock moto ignores the parameter and returns everything, which is still
 * correct, only slower. And it adds GetObjectRetention, which moto 5.2.1 lacks (GET ?retention returns the object's
 * body): the retention moto stored for the object, or 404 NoSuchObjectLockConfiguration, as S3 answers.
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

# moto 5.2.1 stores an object's Object Lock retention but has no GetObjectRetention: GET ?retention falls through to
# GetObject and returns the object's body. Answer it as S3 does, from what moto stored.
try:
    from moto.s3.responses import S3Response

    _key_response_get = S3Response._key_response_get

    def _key_response_get_with_retention(self, query, key_name):
        if "retention" not in query:
            return _key_response_get(self, query, key_name)
        key, _ = self._get_key()
        headers = {"Content-Type": "application/xml"}
        if key.version_id != "null":
            headers["x-amz-version-id"] = key.version_id
        if not key.lock_mode or not key.lock_until:
            return 404, headers, (
                '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchObjectLockConfiguration</Code>'
                "<Message>The specified object does not have a ObjectLock configuration</Message></Error>"
            )
        return 200, headers, (
            '<?xml version="1.0" encoding="UTF-8"?><Retention xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Mode>{key.lock_mode}</Mode><RetainUntilDate>{key.lock_until}</RetainUntilDate></Retention>"
        )

    S3Response._key_response_get = _key_response_get_with_retention
except Exception as error:
    import sys

    print(f"cdk-backup-dr harness: moto's GetObjectRetention was not added: {error!r}", file=sys.stderr)
`;
