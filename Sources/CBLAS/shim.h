#ifndef CONCEPT_LEARNER_CBLAS_SHIM_H
#define CONCEPT_LEARNER_CBLAS_SHIM_H
// Debian's libopenblas-dev installs cblas.h under the multiarch include dir via alternatives.
#include <cblas.h>
#endif
