/* placeholder replaced by the CLI table */
int main(void)
{
    return 0;
}
