// N-API entry points of the elementwise kernels (elementwise.h), registered by addon.cc.
#pragma once
#include <node_api.h>

// gelu(heap, xOff, yOff, n)
napi_value GeluCall(napi_env env, napi_callback_info info);
// geluGrad(heap, xOff, dyOff, dxOff, n)
napi_value GeluGradCall(napi_env env, napi_callback_info info);
// sum(heap, xOff, outOff, rows, cols, leading): leading sums over rows ([cols] out), else over cols ([rows] out).
napi_value SumCall(napi_env env, napi_callback_info info);
// dropout(heap, xOff, yOff, n, seed, drop24): y = x·mask·scale, the mask a hash of (seed, index) (elementwise.h).
napi_value DropoutCall(napi_env env, napi_callback_info info);
// add(heap, aOff, bOff, outOff, n): out = a + b over n floats.
napi_value AddCall(napi_env env, napi_callback_info info);
// gatherRows(heap, xOff, idsOff, outOff, outer, dim, count, rowBytes): for each of `outer` blocks of `dim` rows
// of x, the rows named by the `count` int32 ids, in order (GatherV2 along one axis); an id outside [0, dim)
// throws before anything is copied.
napi_value GatherRowsCall(napi_env env, napi_callback_info info);
