// N-API entry points of the fused LayerNorm (layernorm.h), registered by addon.cc.
#pragma once
#include <node_api.h>

// layerNorm(heap, xOff, gammaOff, betaOff, yOff, rows, cols, eps)
napi_value LayerNormCall(napi_env env, napi_callback_info info);
// layerNormGrad(heap, dyOff, xOff, gammaOff, dxOff, dgammaOff, dbetaOff, rows, cols, eps)
napi_value LayerNormGradCall(napi_env env, napi_callback_info info);
