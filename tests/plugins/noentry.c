/* A shared object that is not a tend plugin: no tend_plugin symbol. */
int not_a_plugin(void);
int not_a_plugin(void) { return 42; }
