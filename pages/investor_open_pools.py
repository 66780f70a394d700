import streamlit as st
st.write('investor_open_pools')
