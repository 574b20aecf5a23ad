package tagwire

/*
#include "twgo.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// Config is a loaded, validated, immutable gateway configuration.
type Config struct{ p *C.tw_config }

func newConfig() (*Config, error) {
	var p *C.tw_config
	if err := newCall(func() C.tw_status { return C.tw_config_new(&p) }); err != nil {
		return nil, err
	}
	c := &Config{p: p}
	runtime.SetFinalizer(c, (*Config).Close)
	return c, nil
}

// LoadConfigFile reads and validates a JSON configuration file. The error's message names the
// file, the JSON path and the problem.
func LoadConfigFile(path string) (*Config, error) {
	c, err := newConfig()
	if err != nil {
		return nil, err
	}
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	if st := C.tw_config_load_file(c.p, cp); st != C.TW_OK {
		err := newErr(st, C.GoString(C.tw_config_last_error(c.p)))
		c.Close()
		return nil, err
	}
	return c, nil
}

// LoadConfig validates JSON text; name is used in messages, baseDir resolves relative paths.
func LoadConfig(json []byte, name, baseDir string) (*Config, error) {
	c, err := newConfig()
	if err != nil {
		return nil, err
	}
	cj := C.CBytes(json)
	defer C.free(cj)
	cn, cb := cstr(name), cstr(baseDir)
	defer cfree(cn)
	defer cfree(cb)
	if st := C.tw_config_load_string(c.p, (*C.char)(cj), C.size_t(len(json)), cn, cb); st != C.TW_OK {
		err := newErr(st, C.GoString(C.tw_config_last_error(c.p)))
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close frees the configuration.
func (c *Config) Close() error {
	if c.p != nil {
		C.tw_config_free(c.p)
		c.p = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

func gs(p *C.char) string { return C.GoString(p) }

func (c *Config) GroupID() string { defer runtime.KeepAlive(c); return gs(C.tw_config_group_id(c.p)) }
func (c *Config) EdgeNodeID() string {
	defer runtime.KeepAlive(c)
	return gs(C.tw_config_edge_node_id(c.p))
}
func (c *Config) BrokerURI() string {
	defer runtime.KeepAlive(c)
	return gs(C.tw_config_broker_uri(c.p))
}
func (c *Config) BrokerHost() string {
	defer runtime.KeepAlive(c)
	return gs(C.tw_config_broker_host(c.p))
}
func (c *Config) BrokerPort() uint16 {
	defer runtime.KeepAlive(c)
	return uint16(C.tw_config_broker_port(c.p))
}
func (c *Config) ClientID() string { defer runtime.KeepAlive(c); return gs(C.tw_config_client_id(c.p)) }
func (c *Config) TLSCAFile() string {
	defer runtime.KeepAlive(c)
	return gs(C.tw_config_tls_ca_file(c.p))
}
func (c *Config) TLSCertFile() string {
	defer runtime.KeepAlive(c)
	return gs(C.tw_config_tls_cert_file(c.p))
}
func (c *Config) TLSKeyFile() string {
	defer runtime.KeepAlive(c)
	return gs(C.tw_config_tls_key_file(c.p))
}
func (c *Config) HasStore() bool   { defer runtime.KeepAlive(c); return C.tw_config_has_store(c.p) != 0 }
func (c *Config) StoreDir() string { defer runtime.KeepAlive(c); return gs(C.tw_config_store_dir(c.p)) }

// ConfigTag is one tag of a configured device.
type ConfigTag struct {
	Name, Path, Address, Unit, Description, ScanGroup string
	Type                                              Type
	ScanRateMs                                        uint32
	Deadband                                          float64
}

// ConfigDevice is one configured device.
type ConfigDevice struct {
	ID, Adapter, Scheme string
	Tags                []ConfigTag
}

// Devices returns the configured devices and their tags (copied out of the C config).
func (c *Config) Devices() []ConfigDevice {
	defer runtime.KeepAlive(c)
	var out []ConfigDevice
	for i := 0; i < int(C.tw_config_device_count(c.p)); i++ {
		d := C.tw_config_device_at(c.p, C.size_t(i))
		cd := ConfigDevice{ID: gs(C.tw_config_device_id(d)), Adapter: gs(C.tw_config_device_adapter(d)),
			Scheme: gs(C.tw_config_device_scheme(d))}
		for j := 0; j < int(C.tw_config_device_tag_count(d)); j++ {
			t := C.tw_config_device_tag_at(d, C.size_t(j))
			var db C.double
			C.tw_config_tag_deadband(t, &db)
			cd.Tags = append(cd.Tags, ConfigTag{Name: gs(C.tw_config_tag_name(t)), Path: gs(C.tw_config_tag_path(t)),
				Address: gs(C.tw_config_tag_address(t)), Unit: gs(C.tw_config_tag_unit(t)),
				Description: gs(C.tw_config_tag_description(t)), ScanGroup: gs(C.tw_config_tag_scan_group(t)),
				Type: Type(C.tw_config_tag_type(t)), ScanRateMs: uint32(C.tw_config_tag_scan_rate_ms(t)),
				Deadband: float64(db)})
		}
		out = append(out, cd)
	}
	return out
}
