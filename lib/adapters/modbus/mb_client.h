/* Modbus client engine (TCP and RTU framing over a tw_transport). SPDX-License-Identifier: Apache-2.0 */
#ifndef TW_MB_CLIENT_H
#define TW_MB_CLIENT_H

#include "adapter/adapter_internal.h"
#include "mb_codec.h"
#include "tagwire/transport.h"

tw_status mb_serial_new(tw_transport **out, const char *path, uint32_t baud, char parity, int stop_bits);
int mb_serial_baud_ok(uint32_t baud);

#endif
