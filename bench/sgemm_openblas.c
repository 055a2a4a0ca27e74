// One-thread cblas_sgemm timings on the products of crates/lightner/benches/matmul.rs, to set a
// system BLAS beside burn flex's `gemm` crate on the same machine (docs/performance.md):
//   apt-get install libopenblas-dev && gcc -O2 bench/sgemm_openblas.c -o /tmp/sg -lopenblas
//   OPENBLAS_NUM_THREADS=1 /tmp/sg          (OPENBLAS_VERBOSE=2 names the kernel it picked)
// Best of 10 after one warm-up; row-major, no transposes, as the bench.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){
  int shapes[][3]={{640,768,3072},{640,3072,768},{640,768,768},{768,640,3072},{16,768,3072},{16,3072,768},{16,768,768}};
  for(int s=0;s<7;s++){int m=shapes[s][0],k=shapes[s][1],n=shapes[s][2];
    float*a=malloc(sizeof(float)*m*k),*b=malloc(sizeof(float)*k*n),*c=malloc(sizeof(float)*m*n);
    for(long i=0;i<(long)m*k;i++)a[i]=(i%7)*0.1f; for(long i=0;i<(long)k*n;i++)b[i]=(i%5)*0.1f;
    cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,m,n,k,1,a,k,b,n,0,c,n);
    double best=1e9; for(int r=0;r<10;r++){double t=now();cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,m,n,k,1,a,k,b,n,0,c,n);t=now()-t;if(t<best)best=t;}
    printf("%dx%d·%dx%d: %.2f ms, %.1f GFLOP/s\n",m,k,k,n,best*1e3,2.0*m*n*k/best/1e9);}
}
