import os
import shutil

import pytest
import tagwire
from tagwire import Identity, lib
from conftest import free_port


def test_identity_rules_and_urn():
    ident = Identity("press-7", vendor="acme", model="p7", serial="SN42", fw_revision="4.1.0")
    ident.check()
    assert ident.urn == "urn:tagwire:acme:p7:SN42"
    bad = Identity("press:7")
    assert not bad.is_valid()
    with pytest.raises(tagwire.EnrollError) as e:
        bad.check()
    assert e.value.code == lib.TW_ERR_IDENTITY and "device_id" in e.value.message
    with pytest.raises(tagwire.NotFound):
        Identity("press-7").urn


def test_inspect_credentials(pki, tmp_path):
    d = tmp_path / "creds"
    (d / "gen-1").mkdir(parents=True)
    shutil.copy(pki / "client.key", d / "gen-1" / "key.pem")
    shutil.copy(pki / "client.pem", d / "gen-1" / "chain.pem")
    os.symlink("gen-1", d / "current")
    info = tagwire.inspect_credentials(d)
    assert info.has_current and not info.has_pending
    assert "CN=device-1" in info.subject and "tagwire test" in info.issuer
    assert info.key_path.endswith("gen-1/key.pem")
    assert info.not_before < info.renew_at < info.not_after
    assert info.renew_at == tagwire.renew_time(info.not_before, info.not_after)
    # a key that does not match the certificate is not a usable credential
    shutil.copy(pki / "client2.key", d / "gen-1" / "key.pem")
    assert not tagwire.inspect_credentials(d).has_current
    with pytest.raises(tagwire.NotFound):
        tagwire.inspect_credentials(tmp_path / "missing")


def test_enrollment_errors_and_events(pki, tmp_path):
    with pytest.raises(tagwire.Error) as e:
        tagwire.Enrollment("http://127.0.0.1:1", str(tmp_path / "c"), server_ca_file=str(pki / "ca.pem"),
                           identity=Identity("dev-1"))
    assert e.value.code == lib.TW_ERR_CONFIG and "https" in e.value.message
    events = []
    with tagwire.Enrollment("https://127.0.0.1:%d" % free_port(), str(tmp_path / "c"),
                            server_ca_file=str(pki / "ca.pem"), identity=Identity("dev-1"),
                            max_attempts=1, request_timeout_ms=2000, on_event=events.append) as en:
        with pytest.raises(tagwire.Error) as e:
            en.enroll()
        assert e.value.code == lib.TW_ERR_CONN_REFUSED and tagwire.status_retriable(e.value.code)
        assert en.last_error
        assert events and events[-1].type is tagwire.enroll.EventType.FAILED
        assert events[-1].status == lib.TW_ERR_CONN_REFUSED and events[-1].retriable
        with pytest.raises(tagwire.NotFound):
            en.commit()
        assert en.retry_after == 0
    assert not tagwire.status_retriable(lib.TW_ERR_EST_AUTH)
