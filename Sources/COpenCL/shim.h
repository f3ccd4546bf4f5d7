#ifndef CONCEPT_LEARNER_COPENCL_SHIM_H
#define CONCEPT_LEARNER_COPENCL_SHIM_H
// OpenCL 1.2 is what every vendor (NVIDIA, AMD, Intel, PoCL) ships; newer calls are not used.
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <clblast_c.h>
#endif
