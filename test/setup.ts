// Loaded by mocha before the tests (see .mocharc.json): nothing global yet beyond making
// sure stray worker threads never keep the process alive.
process.env.CYCLODUMP_TEST = '1';
