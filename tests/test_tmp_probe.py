import io


def test_probe(app, client, as_role, api):
    out = []
    r = client.get("/login")
    out.append(("nested json", r.status_code, r.get_data(as_text=True)[:80]))
    sup = as_role("supervisor")
    for path, text in [("/orders/upload", "order,customer,sku,qty\nSO-3,C,SKU-1,1,extra,more\n"),
                       ("/locations/import", "code\nIMP-1,zone,storage,extra\n"),
                       ("/locations/import", "code\n" + "A" * 140000 + "\n"),
                       ("/locations/import", "code\nNUL\x00X\n")]:
        r = sup.post(path, data={"file": (io.BytesIO(text.encode()), "u.csv")},
                     content_type="multipart/form-data")
        out.append((path, r.status_code, r.get_data(as_text=True).count("Line")))
    a = api("admin")
    r = a.post("/api/v1/items", {"sku": "BIDI-1", "description": "abc\u202edef"})
    out.append(("bidi description", r.status_code))
    r = a.post("/api/v1/items", {"sku": "CTL-1", "description": "abc\x07def"})
    out.append(("ctl description", r.status_code))
    r = sup.get("/put")
    out.append(("headers", r.headers.get("Cache-Control"), r.headers.get("Permissions-Policy"),
                r.headers.get("Strict-Transport-Security")))
    admin = as_role("admin", "root")
    r = admin.post("/admin/users", data={"username": "admin\u200b", "password": "longenough1",
                                          "role": "admin"})
    out.append(("zw username", r.status_code))
    r = client.post("/api/v1/items", data='{"sku":"A","sku":"B"}', content_type="application/json")
    out.append(("dup keys unauth", r.status_code))
    r = a.call("GET", "/api/v1/nope")
    out.append(("unknown api path", r.status_code, r.content_type))
    for line in out:
        print(line)
