package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"unsafe"
)

// Identity names the machine to the plant's PKI (see tagwire/identity.h).
type Identity struct {
	DeviceID, Vendor, Model, Serial, HWRevision, FWRevision string
}

func (d Identity) c() (*C.tw_identity, func()) {
	id := (*C.tw_identity)(C.calloc(1, C.sizeof_tw_identity))
	id.version = C.TW_IDENTITY_VERSION
	id.device_id, id.vendor, id.model = cstr(d.DeviceID), cstr(d.Vendor), cstr(d.Model)
	id.serial, id.hw_revision, id.fw_revision = cstr(d.Serial), cstr(d.HWRevision), cstr(d.FWRevision)
	return id, func() {
		for _, p := range []*C.char{id.device_id, id.vendor, id.model, id.serial, id.hw_revision, id.fw_revision} {
			cfree(p)
		}
		C.free(unsafe.Pointer(id))
	}
}

// Check validates every field (ErrIdentity naming the field).
func (d Identity) Check() error {
	id, free := d.c()
	defer free()
	var why [256]C.char
	return newErr(C.tw_identity_check(id, &why[0], 256), C.GoString(&why[0]))
}

// URN is urn:tagwire:<vendor>:<model>:<serial>.
func (d Identity) URN() (string, error) {
	id, free := d.c()
	defer free()
	var buf [C.TW_IDENTITY_URN_MAX]C.char
	if err := errOf(C.tw_identity_urn(&buf[0], C.TW_IDENTITY_URN_MAX, id)); err != nil {
		return "", err
	}
	return C.GoString(&buf[0]), nil
}

// CredentialInfo describes a credential directory.
type CredentialInfo struct {
	HasCurrent, HasPending              bool
	KeyPath, ChainPath, Subject, Issuer string
	Serial, URI                         string
	NotBefore, NotAfter, RenewAt        int64
}

// InspectCredentials reads a credential directory without modifying it.
func InspectCredentials(dir string, fraction float64) (CredentialInfo, error) {
	i := (*C.tw_credential_info)(C.calloc(1, C.sizeof_tw_credential_info))
	defer C.free(unsafe.Pointer(i))
	i.version = C.TW_CREDENTIAL_INFO_VERSION
	cd := C.CString(dir)
	defer C.free(unsafe.Pointer(cd))
	if err := errOf(C.tw_credential_inspect(i, cd, C.double(fraction))); err != nil {
		return CredentialInfo{}, err
	}
	return CredentialInfo{HasCurrent: i.has_current != 0, HasPending: i.has_pending != 0,
		KeyPath: C.GoString(&i.key_path[0]), ChainPath: C.GoString(&i.chain_path[0]),
		Subject: C.GoString(&i.subject[0]), Issuer: C.GoString(&i.issuer[0]), Serial: C.GoString(&i.serial[0]),
		URI: C.GoString(&i.uri[0]), NotBefore: int64(i.not_before), NotAfter: int64(i.not_after),
		RenewAt: int64(i.renew_at)}, nil
}

// RenewTime is the instant after which a certificate should be renewed.
func RenewTime(notBefore, notAfter int64, fraction float64) int64 {
	return int64(C.tw_enroll_renew_time(C.int64_t(notBefore), C.int64_t(notAfter), C.double(fraction)))
}

// Retriable reports whether an enrollment failure may succeed when tried again later.
func Retriable(err error) bool {
	if e, ok := err.(*Error); ok {
		return C.tw_enroll_status_retriable(C.tw_status(e.Code)) != 0
	}
	return false
}
