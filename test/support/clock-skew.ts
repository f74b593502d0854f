/**
 * TEST SUPPORT, loaded with `node --import` into an agent process: shifts the process's clock
 * (Date.now) by NKMS_TEST_CLOCK_SKEW_MS milliseconds, to run an honest agent whose clock is off.
 */
const skew = Number(process.env.NKMS_TEST_CLOCK_SKEW_MS ?? "0");
if (Number.isFinite(skew) && skew !== 0) {
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + skew;
}
export {};
